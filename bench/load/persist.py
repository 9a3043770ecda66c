#!/usr/bin/python3
"""Snapshots side by side: BGSAVE time, memory during BGSAVE under writes,
load time at start-up (issue 11).

For redis-server and shardis (1 and 2 shards), each started fresh in a
directory of its own, pinned to SERVER_CPU (shardis with 2 shards gets both
CPUs, as it would in production; the figures say so):

  1. KEYS keys of mixed types are loaded with redis-cli --pipe (60 %
     strings of 16 bytes, 10 % each: hashes of 5 fields, lists of 5,
     sets of 5, sorted sets of 5);
  2. idle RSS; BGSAVE on an idle server: the time until
     rdb_bgsave_in_progress is 0 again;
  3. BGSAVE again while a writer (redis-cli --pipe) overwrites 20 % of the
     string keys: the peak memory while it runs, sampled every 10 ms. For
     shardis that is the process's RSS; for redis-server the parent's RSS
     plus the child's private pages (smaps_rollup Private_*), which is
     what the fork costs. Also how many of the writes landed before the
     BGSAVE ended;
  4. the server is stopped and started again on its dump.rdb: the time
     from exec to the first PONG (the load).

The AOF figures of the issue (write throughput with appendfsync always and
everysec) are not measured: the AOF is not built yet.

    bench/load/persist.py
    KEYS=1000000 bench/load/persist.py      (a quicker run)

Environment (defaults in brackets): SHARDIS_BIN [build/src/shardis-server],
REDIS_BIN [redis-server], SERVER_CPU [1], CLIENT_CPU [0], KEYS [5000000],
SHARDS ["1 2"], RESULTS_DIR [bench/results].
"""

import datetime
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from procstat import rss_kb  # noqa: E402
from txn import bench_env, git_commit, write_results  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "tests", "integration"))
from harness import Client, encode_command, free_port  # noqa: E402


def gen_load(path, nkeys):
    """The data set as a RESP stream for redis-cli --pipe."""
    rnd = random.Random(1)
    with open(path, "wb") as f:
        buf = []
        for i in range(nkeys):
            kind = i % 10
            if kind < 6:
                buf.append(encode_command("SET", "s:%d" % i, "%016d" % rnd.randrange(10**15)))
            elif kind == 6:
                buf.append(encode_command("HSET", "h:%d" % i, "a", "1", "b", "2", "c", "three",
                                          "d", "4", "e", "five"))
            elif kind == 7:
                buf.append(encode_command("RPUSH", "l:%d" % i, "a", "b", "c", "d", "e"))
            elif kind == 8:
                buf.append(encode_command("SADD", "t:%d" % i, "m1", "m2", "m3", "m4", "m5"))
            else:
                buf.append(encode_command("ZADD", "z:%d" % i, "1", "a", "2", "b", "3", "c",
                                          "4", "d", "5", "e"))
            if len(buf) >= 10000:
                f.write(b"".join(buf))
                buf = []
        f.write(b"".join(buf))


def gen_writes(path, nkeys):
    """Overwrites of 20 % of the keys, all strings."""
    with open(path, "wb") as f:
        buf = []
        for i in range(0, nkeys, 10):
            for k in (i, i + 1):
                if k < nkeys and k % 10 < 6:
                    buf.append(encode_command("SET", "s:%d" % k, "new-value-%08d" % k))
            if len(buf) >= 10000:
                f.write(b"".join(buf))
                buf = []
        f.write(b"".join(buf))


def pipe(port, path, cpu):
    with open(path, "rb") as f:
        out = subprocess.run(["taskset", "-c", str(cpu), "redis-cli", "-p", str(port), "--pipe"],
                             stdin=f, capture_output=True, text=True)
    if "errors: 0" not in out.stdout:
        raise RuntimeError("redis-cli --pipe: %s %s" % (out.stdout, out.stderr))


def private_kb(pid):
    total = 0
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith(("Private_Clean:", "Private_Dirty:")):
                    total += int(line.split()[1])
    except OSError:
        pass
    return total


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def memory_kb(pid):
    return rss_kb(pid) + sum(private_kb(c) for c in children(pid))


def info(c, field):
    for line in c.cmd("INFO", "persistence").decode().splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1]
    return None


def start(argv, cpus, workdir):
    port = free_port()
    log = open(os.path.join(workdir, "server.log"), "a")
    t0 = time.time()
    proc = subprocess.Popen(["taskset", "-c", cpus] + argv + ["--port", str(port)], cwd=workdir,
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.time() + 600
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited: %r" % argv)
        try:
            with Client(port, timeout=600) as c:
                if c.cmd("PING") == "PONG":
                    return proc, port, time.time() - t0
        except OSError:
            time.sleep(0.01)
    proc.kill()
    raise RuntimeError("server did not start: %r" % argv)


def wait_bgsave(c, pid=None, samples=None):
    while info(c, "rdb_bgsave_in_progress") != "0":
        if pid is not None:
            samples.append(memory_kb(pid))
        time.sleep(0.01)


def run_one(name, argv, cpus, load_path, writes_path, client_cpu):
    work = tempfile.mkdtemp(prefix="persist-bench-")
    try:
        proc, port, _ = start(argv, cpus, work)
        with Client(port, timeout=600) as c:
            pipe(port, load_path, client_cpu)
            keys = sum(int(x) for x in [c.cmd("DBSIZE")])
            idle = rss_kb(proc.pid)
            t = time.time()
            c.cmd("BGSAVE")
            wait_bgsave(c)
            save_s = time.time() - t
            samples = [memory_kb(proc.pid)]
            writer = threading.Thread(target=pipe, args=(port, writes_path, client_cpu))
            writer.start()
            t = time.time()
            c.cmd("BGSAVE")
            wait_bgsave(c, proc.pid, samples)
            during = time.time() - t
            writer_done_in_save = not writer.is_alive()
            writer.join()
            write_s = time.time() - t
            size = os.path.getsize(os.path.join(work, "dump.rdb"))
            c.cmd("SAVE")
            c.send_command("SHUTDOWN", "NOSAVE")
        proc.wait(timeout=120)
        proc, port, load_s = start(argv, cpus, work)
        with Client(port, timeout=600) as c:
            loaded = c.cmd("DBSIZE")
            c.send_command("SHUTDOWN", "NOSAVE")
        proc.wait(timeout=120)
        peak = max(samples)
        return {
            "name": name, "keys": keys, "loaded": loaded, "save_s": save_s, "idle_mb": idle / 1024,
            "peak_mb": peak / 1024, "peak_pct": 100.0 * (peak - idle) / idle, "during_s": during,
            "writes_in": writer_done_in_save, "write_s": write_s, "load_s": load_s,
            "file_mb": size / 1048576,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    shardis, redis_bin, server_cpu, client_cpu, shard_counts, results_dir = bench_env("1 2")
    nkeys = int(os.environ.get("KEYS", "5000000"))
    tmp = tempfile.mkdtemp(prefix="persist-data-")
    load_path, writes_path = os.path.join(tmp, "load.resp"), os.path.join(tmp, "writes.resp")
    gen_load(load_path, nkeys)
    gen_writes(writes_path, nkeys)
    servers = [("redis-server", [redis_bin, "--save", "", "--appendonly", "no", "--bind",
                                 "127.0.0.1"], str(server_cpu))]
    for n in shard_counts:
        cpus = str(server_cpu) if n == 1 else "0-%d" % (n - 1)
        servers.append(("shardis %d shard%s" % (n, "" if n == 1 else "s"),
                        [shardis, "--bind", "127.0.0.1", "--shards", str(n), "--save", ""], cpus))
    rows = []
    try:
        for name, argv, cpus in servers:
            print("running", name, flush=True)
            rows.append(run_one(name, argv, cpus, load_path, writes_path, client_cpu))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lines = [
        "# Snapshots side by side (%s, commit %s)" % (datetime.date.today(), git_commit()),
        "",
        "`KEYS=%d bench/load/persist.py`: %d keys, 60 %% strings, 10 %% each hashes, lists, "
        "sets, sorted sets of 5 elements; the writer overwrites 20 %% of the keys "
        "(strings) during the second BGSAVE. Memory: shardis's RSS; redis-server's "
        "parent RSS plus its child's private pages. shardis 2 shards runs on both CPUs "
        "(the load generator shares CPU %d)." % (nkeys, nkeys, client_cpu),
        "",
        "| server | keys | BGSAVE idle (s) | file (MB) | idle RSS (MB) | peak during "
        "BGSAVE + writes (MB) | above idle | BGSAVE under writes (s) | writes done before "
        "it ended | load at start (s) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append("| %s | %d | %.2f | %.0f | %.0f | %.0f | %.1f %% | %.2f | %s | %.2f |" % (
            r["name"], r["keys"], r["save_s"], r["file_mb"], r["idle_mb"], r["peak_mb"],
            r["peak_pct"], r["during_s"], "all" if r["writes_in"] else "some", r["load_s"]))
        if r["loaded"] != r["keys"]:
            lines.append("| %s: loaded %d keys of %d |" % (r["name"], r["loaded"], r["keys"]))
    print("\n".join(lines))
    write_results(results_dir, "%s-%s-persist.md" % (datetime.date.today(), git_commit()), lines)


if __name__ == "__main__":
    main()
