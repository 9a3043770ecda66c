#!/usr/bin/python3
"""SORT side by side: server CPU per SORT of a 100k-element list.

For redis-server and shardis (1 shard by default), each pinned to
SERVER_CPU, the driver (pinned to CLIENT_CPU) loads

  nums    a list of N random integers           SORT nums
  words   a list of N random 8-letter strings   SORT words ALPHA
  ids     a list 0..N-1 with N weight keys w_i  SORT ids BY w_*

and runs each SORT OPS times, one at a time (the whole N-element reply is
read), reporting per server and workload the server's CPU time
(utime+stime of the whole process, /proc/PID/stat) per SORT and the ratio
to redis-server. Results go to bench/results/<date>-<commit>-sort.md.

    bench/load/sort.py
    SHARDIS_BIN=... OPS=20 N=100000 bench/load/sort.py

Environment (defaults in brackets): SHARDIS_BIN [build/src/shardis-server],
REDIS_BIN [redis-server], SERVER_CPU [1], CLIENT_CPU [0], N [100000],
OPS SORTs per workload [20], SHARDS ["1"], WORKLOADS ["numeric alpha by"],
RESULTS_DIR [bench/results].
"""

import datetime
import os
import random
import socket
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench", "load"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from harness import Client, encode_command  # noqa: E402
from txn import (bench_env, cpu_seconds, git_commit, ratio_table, server_list,  # noqa: E402
                 start, write_results)

COMMANDS = {
    "numeric": ("SORT", "nums"),
    "alpha": ("SORT", "words", "ALPHA"),
    "by": ("SORT", "ids", "BY", "w_*"),
}


def sort_once(sock, cmd):
    """Sends cmd and reads its reply (an array of bulk strings) without
    building it; returns the number of elements."""
    sock.sendall(encode_command(*cmd))
    buf = b""
    pos = 0

    def line():
        nonlocal buf, pos
        while True:
            e = buf.find(b"\r\n", pos)
            if e >= 0:
                out, pos = buf[pos:e], e + 2
                return out
            buf = buf[pos:] + sock.recv(1 << 20)
            pos = 0

    head = line()
    if not head.startswith(b"*"):
        raise RuntimeError("unexpected reply %r" % head)
    count = int(head[1:])
    for _ in range(count):
        size = int(line()[1:])
        while len(buf) - pos < size + 2:
            buf = buf[pos:] + sock.recv(1 << 20)
            pos = 0
        pos += size + 2
    return count


def load(c, n):
    rnd = random.Random(1)
    batch = 1000
    for lo in range(0, n, batch):
        hi = min(n, lo + batch)
        c.cmd("RPUSH", "nums", *[str(rnd.randrange(10 ** 9)) for _ in range(lo, hi)])
        c.cmd("RPUSH", "words", *["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz")
                                          for _ in range(8)) for _ in range(lo, hi)])
        c.cmd("RPUSH", "ids", *[str(i) for i in range(lo, hi)])
        mset = []
        for i in range(lo, hi):
            mset += ["w_%d" % i, str(rnd.randrange(10 ** 6))]
        c.cmd("MSET", *mset)


def main():
    shardis, redis_bin, server_cpu, client_cpu, shard_counts, results_dir = bench_env("1")
    n = int(os.environ.get("N", "100000"))
    ops = int(os.environ.get("OPS", "20"))
    workloads = os.environ.get("WORKLOADS", "numeric alpha by").split()

    servers = server_list(shardis, redis_bin, shard_counts)
    rows = []
    for name, argv in servers:
        proc, port = start(argv, server_cpu)
        try:
            with Client(port, timeout=120) as c:
                load(c, n)
                for kind in workloads:
                    cmd = COMMANDS[kind]
                    first = c.cmd(*cmd)  # warm-up; checks the reply
                    if not isinstance(first, list) or len(first) != n:
                        raise RuntimeError("%s: bad reply to %r" % (name, cmd))
                    sock = socket.create_connection(("127.0.0.1", port))
                    cpu0 = cpu_seconds(proc.pid)
                    t0 = time.time()
                    for _ in range(ops):
                        if sort_once(sock, cmd) != n:
                            raise RuntimeError("%s: short reply to %r" % (name, cmd))
                    secs = time.time() - t0
                    sock.close()
                    cpu = cpu_seconds(proc.pid) - cpu0
                    rows.append((name, kind, ops / secs, cpu / ops * 1e3))
                    print("%-16s %-8s %7.1f SORT/s  %8.2f ms CPU/SORT" %
                          (name, kind, ops / secs, cpu / ops * 1e3), flush=True)
        finally:
            proc.terminate()
            proc.wait(10)

    date = datetime.date.today().isoformat()
    commit = git_commit()
    lines = ["# SORT side by side (%s, commit %s)" % (date, commit), "",
             "- command: `%s`" % " ".join(
                 ["%s=%s" % (k, os.environ[k]) for k in
                  ("SHARDIS_BIN", "N", "OPS", "SHARDS", "WORKLOADS") if k in os.environ] +
                 ["bench/load/sort.py"]),
             "- server pinned to CPU %d, driver (Python, one SORT at a time, whole reply"
             " read) to CPU %d; lists of %d elements, %d SORTs per workload" %
             (server_cpu, client_cpu, n, ops),
             "- workloads: " + "; ".join("%s `%s`" % (k, " ".join(COMMANDS[k]))
                                         for k in workloads),
             "- CPU/SORT: the server's utime+stime over the run divided by SORTs "
             "(10 ms clock ticks: use OPS >= 20)", ""]
    lines += ratio_table(rows, "SORT/s", "SORT", unit="ms", rate_fmt="%.1f")
    write_results(results_dir, "%s-%s-sort.md" % (date, commit), lines)


if __name__ == "__main__":
    main()
