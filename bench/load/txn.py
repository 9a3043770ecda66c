#!/usr/bin/python3
"""Transactions side by side: server CPU per transaction and throughput.

For redis-server and shardis (1 shard and 4 shards), each pinned to
SERVER_CPU, this drives with CLIENTS connections (the driver pinned to
CLIENT_CPU), each keeping DEPTH transactions in flight:

  multi2    MULTI / SET a / SET b / EXEC, a and b random keys (with 4 shards
            three pairs in four are on different shards)
  evalsha2  EVALSHA of a two-key script (SET both keys), when the server
            knows EVALSHA
  transfer  MULTI / DECRBY a 1 / INCRBY b 1 / EXEC between 8 accounts
            (the concurrency test's transfers, maximum contention)

and reports, per server and workload, transactions per second and the
server's CPU time (utime+stime of the whole process, /proc/PID/stat) per
transaction. Results go to bench/results/<date>-<commit>-txn.md.

    bench/load/txn.py
    SHARDIS_BIN=... OPS=20000 bench/load/txn.py

Environment (defaults in brackets): SHARDIS_BIN [build/src/shardis-server],
REDIS_BIN [redis-server], SERVER_CPU [1], CLIENT_CPU [0], CLIENTS [8],
DEPTH [4], OPS transactions per workload [20000], SHARDS ["1 4"],
WORKLOADS ["multi2 evalsha2 transfer"], RESULTS_DIR [bench/results].
"""

import datetime
import os
import random
import selectors
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from harness import Client, encode_command, free_port, parse_reply, Incomplete  # noqa: E402

SCRIPT = "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('SET', KEYS[2], ARGV[1])"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def start(argv, cpu):
    port = free_port()
    log = open("/tmp/txnbench-%d.log" % port, "w")
    proc = subprocess.Popen(["taskset", "-c", str(cpu)] + argv + ["--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with Client(port) as c:
                if c.cmd("PING") == "PONG":
                    return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("server did not start: %r" % argv)


def one_txn(kind, rnd, sha):
    if kind == "multi2":
        a, b = "k:%d" % rnd.randrange(100000), "k:%d" % rnd.randrange(100000)
        return [("MULTI",), ("SET", a, "v"), ("SET", b, "v"), ("EXEC",)]
    if kind == "evalsha2":
        a, b = "k:%d" % rnd.randrange(100000), "k:%d" % rnd.randrange(100000)
        return [("EVALSHA", sha, "2", a, b, "v")]
    a, b = "acct:%d" % rnd.randrange(8), "acct:%d" % rnd.randrange(8)
    return [("MULTI",), ("DECRBY", a, "1"), ("INCRBY", b, "1"), ("EXEC",)]


def drive(port, kind, ops, clients, depth, sha):
    """Each connection keeps `depth` transactions in flight; returns
    (transactions done, seconds, error replies)."""
    sel = selectors.DefaultSelector()
    conns = []
    per = ops // clients
    for i in range(clients):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        st = {"sock": s, "rnd": random.Random(i), "left": per, "inflight": [],
              "buf": b"", "done": 0}
        conns.append(st)
        sel.register(s, selectors.EVENT_READ, st)
    errors = 0

    def send_more(st):
        out = []
        while st["left"] > 0 and len(st["inflight"]) < depth:
            cmds = one_txn(kind, st["rnd"], sha)
            st["inflight"].append(len(cmds))
            st["left"] -= 1
            out += [encode_command(*c) for c in cmds]
        if out:
            st["sock"].sendall(b"".join(out))

    t0 = time.time()
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
                    need = st["inflight"][0]
                    p = pos
                    last = None
                    for _ in range(need):
                        last, p = parse_reply(st["buf"], p)
                except Incomplete:
                    break
                pos = p
                st["inflight"].pop(0)
                st["done"] += 1
                if last is None or (isinstance(last, Exception)):
                    errors += 1
            st["buf"] = st["buf"][pos:]
            send_more(st)
        pending = sum(1 for st in conns if st["inflight"])
    secs = time.time() - t0
    for st in conns:
        st["sock"].close()
    return sum(st["done"] for st in conns), secs, errors


def git_commit():
    try:
        return subprocess.check_output(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                                       text=True).strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def bench_env(default_shards):
    """The knobs every load script shares (SHARDIS_BIN, REDIS_BIN,
    SERVER_CPU, CLIENT_CPU, SHARDS, RESULTS_DIR); pins the driver to
    CLIENT_CPU. Returns (shardis, redis_bin, server_cpu, client_cpu,
    shard_counts, results_dir)."""
    shardis = os.environ.get("SHARDIS_BIN") or os.path.join(ROOT, "build/src/shardis-server")
    redis_bin = os.environ.get("REDIS_BIN", "redis-server")
    server_cpu = int(os.environ.get("SERVER_CPU", "1"))
    client_cpu = int(os.environ.get("CLIENT_CPU", "0"))
    shard_counts = [int(x) for x in os.environ.get("SHARDS", default_shards).split()]
    results_dir = os.environ.get("RESULTS_DIR", os.path.join(ROOT, "bench", "results"))
    os.sched_setaffinity(0, {client_cpu})
    return shardis, redis_bin, server_cpu, client_cpu, shard_counts, results_dir


def server_list(shardis, redis_bin, shard_counts):
    """(name, argv) of redis-server, then shardis with each shard count."""
    servers = [("redis-server", [redis_bin, "--save", "", "--appendonly", "no",
                                 "--bind", "127.0.0.1"])]
    for n in shard_counts:
        servers.append(("shardis %d shard%s" % (n, "" if n == 1 else "s"),
                        [shardis, "--bind", "127.0.0.1", "--shards", str(n)]))
    return servers


def ratio_table(rows, rate, per, unit="us", rate_fmt="%.0f"):
    """Markdown lines for rows of (server, workload, rate, cpu, ...): each
    workload's CPU as a ratio to redis-server's."""
    lines = ["| server | workload | %s | server CPU per %s (%s) | ratio to redis-server |"
             % (rate, per, unit), "| --- | --- | --- | --- | --- |"]
    base = {r[1]: r[3] for r in rows if r[0] == "redis-server" and r[3]}
    for r in rows:
        name, kind, tps, cpu = r[:4]
        if tps is None:
            lines.append("| %s | %s | - | - | - |" % (name, kind))
            continue
        ratio = "%.2fx" % (cpu / base[kind]) if base.get(kind) else "-"
        lines.append(("| %s | %s | " + rate_fmt + " | %.2f | %s |") % (name, kind, tps, cpu, ratio))
    return lines


def write_results(results_dir, name, lines):
    """Writes lines to results_dir/name and says where."""
    os.makedirs(results_dir, exist_ok=True)
    path = os.path.join(results_dir, name)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote", path)
    subprocess.call([sys.executable,  # SVG charts beside it (bench/plot.py), status ignored
                     os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "plot.py"), path])
    return path


def main():
    shardis, redis_bin, server_cpu, client_cpu, shard_counts, results_dir = bench_env("1 4")
    clients = int(os.environ.get("CLIENTS", "8"))
    depth = int(os.environ.get("DEPTH", "4"))
    ops = int(os.environ.get("OPS", "20000"))
    workloads = os.environ.get("WORKLOADS", "multi2 evalsha2 transfer").split()

    servers = server_list(shardis, redis_bin, shard_counts)
    rows = []
    for name, argv in servers:
        proc, port = start(argv, server_cpu)
        try:
            with Client(port) as c:
                sha = c.cmd("SCRIPT", "LOAD", SCRIPT)
                has_eval = isinstance(sha, bytes)
                for a in range(8):
                    c.cmd("SET", "acct:%d" % a, "1000000")
            for kind in workloads:
                if kind == "evalsha2" and not has_eval:
                    rows.append((name, kind, None, None, None))
                    continue
                cpu0 = cpu_seconds(proc.pid)
                done, secs, errors = drive(port, kind, ops, clients, depth,
                                           sha.decode() if has_eval else "")
                cpu = cpu_seconds(proc.pid) - cpu0
                rows.append((name, kind, done / secs, cpu / done * 1e6, errors))
                print("%-18s %-9s %9.0f txn/s  %7.2f us CPU/txn  errors %d" %
                      (name, kind, done / secs, cpu / done * 1e6, errors), flush=True)
        finally:
            proc.terminate()
            proc.wait(10)

    date = datetime.date.today().isoformat()
    commit = git_commit()
    lines = ["# Transactions side by side (%s, commit %s)" % (date, commit), "",
             "- command: `%s`" % " ".join(
                 ["%s=%s" % (k, os.environ[k]) for k in
                  ("SHARDIS_BIN", "OPS", "CLIENTS", "DEPTH", "SHARDS", "WORKLOADS")
                  if k in os.environ] + ["bench/load/txn.py"]),
             "- server pinned to CPU %d, driver (Python, raw RESP) to CPU %d; %d connections,"
             " %d transactions in flight each, %d transactions per workload" %
             (server_cpu, client_cpu, clients, depth, ops),
             "- CPU/txn: the server's utime+stime over the run divided by transactions", ""]
    lines += ratio_table(rows, "txn/s", "txn")
    write_results(results_dir, "%s-%s-txn.md" % (date, commit), lines)


if __name__ == "__main__":
    main()
