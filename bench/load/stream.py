#!/usr/bin/python3
"""Streams side by side: server CPU per XADD, per XRANGE of 100 entries and
per XREADGROUP + XACK pair, and memory per entry of a 1M-entry stream.

For redis-server and shardis (SHARDS, 1 by default), each pinned to
SERVER_CPU in turn, this drives with CLIENTS connections (the driver pinned
to CLIENT_CPU), each keeping DEPTH operations in flight, over KEYS streams
(each connection owns KEYS/CLIENTS of them, so that the IDs it reads are
known without a round trip):

  xadd      XADD key <n>-0 name <8 bytes> temp <int>, n counting per key
  xrange    XRANGE key - + COUNT 100 of a random key (full streams)
  xreadack  XREADGROUP GROUP g <conn> COUNT 1 STREAMS key > then XACK of the
            entry it gets (one pair = one operation), over every added entry

then fills one stream with ENTRIES (1M) entries (XADD mem * name <8 bytes>
temp <int>, pipelined) and reports used_memory (INFO memory) and RSS growth
per entry. CPU is the server's utime+stime of the whole process
(/proc/PID/stat) per operation, with the ratio to redis-server's. Results
go to bench/results/<date>-<commit>-stream.md.

    bench/load/stream.py
    SHARDIS_BIN=/tmp/b/src/shardis-server OPS=20000 bench/load/stream.py

Environment (defaults in brackets): SHARDIS_BIN [build/src/shardis-server],
REDIS_BIN [redis-server], SERVER_CPU [1], CLIENT_CPU [0], CLIENTS [8],
DEPTH [4], OPS operations per workload [40000], KEYS [64], ENTRIES
[1000000], SHARDS ["1"], WORKLOADS ["xadd xrange xreadack"], RESULTS_DIR
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
from hll import cpu_model  # noqa: E402


class Conn:
    """One driver connection: its keys (index i, i+clients, ...), the next
    ID to add and to read in each."""

    def __init__(self, port, idx, clients, nkeys, seed):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.idx = idx
        self.keys = ["st:%d" % k for k in range(idx, nkeys, clients)]
        self.added = {k: 0 for k in self.keys}
        self.read = {k: 0 for k in self.keys}
        self.rnd = random.Random(seed)
        self.inflight = []
        self.buf = b""
        self.left = 0
        self.done = 0


def one_op(kind, st, nkeys):
    rnd = st.rnd
    if kind == "xadd":
        key = st.keys[rnd.randrange(len(st.keys))]
        st.added[key] += 1
        return [("XADD", key, "%d-0" % st.added[key], "name", "%08x" % rnd.getrandbits(32),
                 "temp", str(rnd.randrange(1000)))]
    if kind == "xrange":
        return [("XRANGE", "st:%d" % rnd.randrange(nkeys), "-", "+", "COUNT", "100")]
    key = next(k for k in st.keys[rnd.randrange(len(st.keys)):] + st.keys
               if st.read[k] < st.added[k])
    st.read[key] += 1
    return [("XREADGROUP", "GROUP", "g", "c%d" % st.idx, "COUNT", "1", "STREAMS", key, ">"),
            ("XACK", key, "g", "%d-0" % st.read[key])]


def drive(conns, kind, ops, depth, nkeys):
    """Each connection keeps `depth` operations in flight; returns
    (operations done, seconds, error replies, bad replies)."""
    sel = selectors.DefaultSelector()
    for st in conns:
        st.left, st.done, st.buf, st.inflight = ops // len(conns), 0, b"", []
        sel.register(st.sock, selectors.EVENT_READ, st)
    errors = bad = 0

    def send_more(st):
        out = []
        while st.left > 0 and len(st.inflight) < depth:
            cmds = one_op(kind, st, nkeys)
            st.inflight.append(len(cmds))
            st.left -= 1
            out += [encode_command(*c) for c in cmds]
        if out:
            st.sock.sendall(b"".join(out))

    t0 = time.monotonic()
    for st in conns:
        send_more(st)
    pending = sum(1 for st in conns if st.inflight)
    while pending:
        for key, _ in sel.select(timeout=30):
            st = key.data
            data = st.sock.recv(1 << 16)
            if not data:
                raise RuntimeError("server closed the connection")
            st.buf += data
            pos = 0
            while st.inflight:
                try:
                    p = pos
                    replies = []
                    for _ in range(st.inflight[0]):
                        r, p = parse_reply(st.buf, p)
                        replies.append(r)
                except Incomplete:
                    break
                pos = p
                st.inflight.pop(0)
                st.done += 1
                errors += sum(1 for r in replies if isinstance(r, Exception))
                if kind == "xrange" and len(replies[0]) != 100:
                    bad += 1
                if kind == "xreadack" and replies[1] != 1:
                    bad += 1
            st.buf = st.buf[pos:]
            send_more(st)
        pending = sum(1 for st in conns if st.inflight)
    secs = time.monotonic() - t0
    for st in conns:
        sel.unregister(st.sock)
    return sum(st.done for st in conns), secs, errors, bad


def info_field(c, section, field):
    for line in c.cmd("INFO", section).decode().split("\r\n"):
        if line.startswith(field + ":"):
            return int(line.split(":")[1])
    raise RuntimeError("no %s in INFO %s" % (field, section))


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def fill_memory(port, pid, entries):
    """Bytes per entry of one stream of `entries` entries: (used_memory
    growth, RSS growth) / entries, and the seconds it took."""
    rnd = random.Random(7)
    with Client(port, timeout=120) as c:
        c.cmd("DEL", "mem")
        u0, r0 = info_field(c, "memory", "used_memory"), rss_bytes(pid)
        t0 = time.monotonic()
        batch = 2000
        for start_at in range(0, entries, batch):
            n = min(batch, entries - start_at)
            c.send(b"".join(encode_command("XADD", "mem", "*", "name",
                                           "%08x" % rnd.getrandbits(32), "temp",
                                           str(rnd.randrange(1000))) for _ in range(n)))
            for _ in range(n):
                c.read_reply()
        secs = time.monotonic() - t0
        if c.cmd("XLEN", "mem") != entries:
            raise RuntimeError("the stream does not have %d entries" % entries)
        u1, r1 = info_field(c, "memory", "used_memory"), rss_bytes(pid)
    return (u1 - u0) / entries, (r1 - r0) / entries, secs


def main():
    shardis, redis_bin, server_cpu, client_cpu, shard_counts, results_dir = bench_env("1")
    clients = int(os.environ.get("CLIENTS", "8"))
    depth = int(os.environ.get("DEPTH", "4"))
    ops = int(os.environ.get("OPS", "40000"))
    nkeys = int(os.environ.get("KEYS", "64"))
    entries = int(os.environ.get("ENTRIES", "1000000"))
    workloads = os.environ.get("WORKLOADS", "xadd xrange xreadack").split()
    if "xreadack" in workloads and "xadd" not in workloads:
        sys.exit("xreadack reads what xadd added: run both")

    rows, mem = [], []
    for name, argv in server_list(shardis, redis_bin, shard_counts):
        proc, port = start(argv, server_cpu)
        try:
            with Client(port) as c:
                c.cmd("FLUSHALL")
            conns = [Conn(port, i, clients, nkeys, i) for i in range(clients)]
            for kind in workloads:
                if kind == "xreadack":
                    with Client(port) as c:
                        for k in range(nkeys):
                            c.cmd("XGROUP", "CREATE", "st:%d" % k, "g", "0")
                    total = sum(st.added[k] for st in conns for k in st.keys)
                    n = min(ops, total)
                else:
                    n = ops
                cpu0 = cpu_seconds(proc.pid)
                done, secs, errors, bad = drive(conns, kind, n, depth, nkeys)
                cpu = cpu_seconds(proc.pid) - cpu0
                rows.append((name, kind, done / secs, cpu / done * 1e6, errors))
                print("%-18s %-9s %9.0f op/s  %7.2f us CPU/op  errors %d  bad %d" %
                      (name, kind, done / secs, cpu / done * 1e6, errors, bad), flush=True)
            for st in conns:
                st.sock.close()
            used, rss, secs = fill_memory(port, proc.pid, entries)
            mem.append((name, used, rss, secs))
            print("%-18s %d entries: %.1f B/entry used_memory, %.1f B/entry RSS (%.1f s)" %
                  (name, entries, used, rss, secs), flush=True)
        finally:
            proc.terminate()
            proc.wait(10)

    date = datetime.date.today().isoformat()
    commit = git_commit()
    lines = ["# Streams side by side (%s, commit %s)" % (date, commit), "",
             "- machine: %s, %d CPUs, kernel %s, load average %s" %
             (cpu_model(), os.cpu_count(), os.uname().release,
              " ".join("%.2f" % x for x in os.getloadavg())),
             "- command: `%s`" % " ".join(
                 ["%s=%s" % (k, os.environ[k]) for k in
                  ("SHARDIS_BIN", "OPS", "CLIENTS", "DEPTH", "KEYS", "ENTRIES", "SHARDS",
                   "WORKLOADS") if k in os.environ] + ["bench/load/stream.py"]),
             "- server pinned to CPU %d, driver (Python, raw RESP) to CPU %d; %d connections,"
             " %d operations in flight each, %d operations per workload over %d streams" %
             (server_cpu, client_cpu, clients, depth, ops, nkeys),
             "- xadd: XADD with an explicit ID and two fields; xrange: XRANGE - + COUNT 100"
             " (100 entries each); xreadack: XREADGROUP COUNT 1 + XACK, one pair per op",
             "- CPU/op: the server's utime+stime over the run divided by operations", ""]
    lines += ratio_table(rows, "op/s", "op")
    lines += ["", "## Memory of one stream of %d entries" % entries, "",
              "XADD mem * name <8 hex chars> temp <0-999>, pipelined 2000 at a time;"
              " growth of used_memory and RSS divided by entries.", "",
              "| server | used_memory per entry (B) | RSS per entry (B) | ratio (used_memory) |",
              "| --- | --- | --- | --- |"]
    base = next((m[1] for m in mem if m[0] == "redis-server"), None)
    for name, used, rss, _ in mem:
        lines.append("| %s | %.1f | %.1f | %s |" %
                     (name, used, rss, "%.2fx" % (used / base) if base else "-"))
    write_results(results_dir, "%s-%s-stream.md" % (date, commit), lines)


if __name__ == "__main__":
    main()
