#!/usr/bin/python3
"""Replication side by side: the primary's cost (issue 16).

For redis-server and shardis (SHARDS, default 1 shard) as the PRIMARY,
pinned to SERVER_CPU, with redis-server replicas and the load generators on
CLIENT_CPU (a 2-core machine has no third CPU: the replicas share the
client's), this measures:

  1. full sync under writes: KEYS keys of mixed types (persist.py's load:
     60 % strings, 10 % each hashes, lists, sets, sorted sets of 5) are
     loaded; a replica is started and, at the same moment, a writer
     (redis-cli --pipe) overwrites 20 % of the string keys. The time until
     the primary shows the replica online (the snapshot made, sent and
     loaded), the time until it has caught up with every write, and the
     primary's peak memory meanwhile (shardis: its RSS; redis-server: the
     parent's RSS plus its fork child's private pages), sampled every 10 ms.
     SYNC=disk (the default): both primaries sync through a file
     (repl-diskless-sync no); SYNC=diskless: both stream the snapshot to the
     replica's socket (repl-diskless-sync yes, repl-diskless-sync-delay 0).
  2. replication lag under writes: with one replica in sync,
     redis-benchmark -t set -P 16 (CLIENTS connections, random keys of
     KEYSPACE); every 50 ms, master_repl_offset minus the replica's
     acknowledged offset (the primary's INFO slave0 offset=, refreshed by
     the replica's once-a-second REPLCONF ACK) and minus the offset the
     replica has applied (its own INFO slave_repl_offset, read just before
     the primary's): mean and max in bytes, and the write rate that made it.
  3. the primary's CPU per write (utime+stime of the process,
     /proc/PID/stat, over REQUESTS SETs of redis-benchmark -P 16) with 0, 1
     and 2 replicas attached.

    bench/load/repl.py
    KEYS=5000000 bench/load/repl.py          (the issue's size; ~6 GB RAM)

Environment (defaults in brackets): SHARDIS_BIN [build/src/shardis-server],
REDIS_BIN [redis-server], SERVER_CPU [1], CLIENT_CPU [0], KEYS [1000000],
SHARDS ["1"], REQUESTS [2000000], CLIENTS [50], KEYSPACE [100000], SYNC [disk],
RESULTS_DIR [bench/results]. Results go to
bench/results/<date>-<commit>-repl.md.
"""

import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from persist import gen_load, gen_writes, memory_kb, pipe, rss_kb  # noqa: E402
from txn import bench_env, cpu_seconds, git_commit, write_results  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "tests", "integration"))
from harness import Client, free_port  # noqa: E402


def start(argv, cpu, workdir, name):
    """Starts argv pinned to cpu in workdir; returns (proc, port) once it
    answers PING (or is a replica that says it is loading)."""
    port = free_port()
    log = open(os.path.join(workdir, "%s.log" % name), "a")
    proc = subprocess.Popen(["taskset", "-c", str(cpu)] + argv + ["--port", str(port)],
                            cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    deadline = time.time() + 600
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited: %r" % (name, argv))
        try:
            with Client(port, timeout=600) as c:
                c.cmd("PING")
                return proc, port
        except OSError:
            time.sleep(0.01)
    proc.kill()
    raise RuntimeError("%s did not start: %r" % (name, argv))


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def repl_info(port):
    with Client(port, timeout=600) as c:
        text = c.cmd("INFO", "replication").decode()
    return dict(line.split(":", 1) for line in text.splitlines()
                if ":" in line and not line.startswith("#"))


def slave_fields(f, i=0):
    line = f.get("slave%d" % i, "")
    return dict(kv.split("=", 1) for kv in line.split(",") if "=" in kv)


def start_replica(redis_bin, pport, cpu, work, name):
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    return start([redis_bin, "--save", "", "--appendonly", "no", "--bind", "127.0.0.1",
                  "--replicaof", "127.0.0.1", str(pport)], cpu, d, name)


def wait_online(pport, n, timeout=1200, on_sample=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        f = repl_info(pport)
        if sum(slave_fields(f, i).get("state") == "online" for i in range(n)) == n:
            return
        if on_sample:
            on_sample()
        time.sleep(0.01)
    raise RuntimeError("replicas not online within %d s" % timeout)


def wait_caught_up(pport, rport, timeout=600):
    target = int(repl_info(pport)["master_repl_offset"])
    deadline = time.time() + timeout
    while time.time() < deadline:
        f = repl_info(rport)
        if f.get("master_link_status") == "up" and int(f.get("slave_repl_offset", -1)) >= target:
            return
        time.sleep(0.01)
    raise RuntimeError("replica did not catch up")


def benchmark(port, requests, clients, keyspace, cpu):
    """redis-benchmark -t set -P 16; returns its requests per second."""
    out = subprocess.run(["taskset", "-c", str(cpu), "redis-benchmark", "-p", str(port), "-t",
                          "set", "-P", "16", "-n", str(requests), "-c", str(clients), "-r",
                          str(keyspace), "-d", "16", "-q"],
                         capture_output=True, text=True, check=True)
    m = re.findall(r"([\d.]+) requests per second", out.stdout.replace("\r", "\n"))
    return float(m[-1]) if m else 0.0


def full_sync(primary, redis_bin, cpus, load_path, writes_path):
    """Step 1, on a fresh primary; returns its figures and leaves nothing."""
    argv, server_cpu, client_cpu = primary, cpus[0], cpus[1]
    work = tempfile.mkdtemp(prefix="repl-bench-")
    procs = []
    try:
        proc, port = start(argv, server_cpu, work, "primary")
        procs.append(proc)
        pipe(port, load_path, client_cpu)
        with Client(port) as c:
            keys = c.cmd("DBSIZE")
        idle = rss_kb(proc.pid)
        samples = [memory_kb(proc.pid)]
        writer = threading.Thread(target=pipe, args=(port, writes_path, client_cpu))
        t0 = time.time()
        writer.start()
        rproc, rport = start_replica(redis_bin, port, client_cpu, work, "replica1")
        procs.append(rproc)
        wait_online(port, 1, on_sample=lambda: samples.append(memory_kb(proc.pid)))
        online_s = time.time() - t0
        writes_done_before = not writer.is_alive()
        writer.join()
        wait_caught_up(port, rport)
        caught_s = time.time() - t0
        with Client(rport) as c:
            rkeys = c.cmd("DBSIZE")
        peak = max(samples)
        return {"keys": keys, "replica_keys": rkeys, "online_s": online_s, "caught_s": caught_s,
                "idle_mb": idle / 1024, "peak_mb": peak / 1024,
                "peak_pct": 100.0 * (peak - idle) / idle, "writes_in": writes_done_before}
    finally:
        for p in reversed(procs):
            stop(p)
        shutil.rmtree(work, ignore_errors=True)


def lag_and_cpu(primary, redis_bin, cpus, requests, clients, keyspace):
    """Steps 2 and 3 on a fresh, empty primary."""
    argv, server_cpu, client_cpu = primary, cpus[0], cpus[1]
    work = tempfile.mkdtemp(prefix="repl-bench-")
    procs = []
    out = {"cpu_us": {}, "rate": {}}
    try:
        proc, port = start(argv, server_cpu, work, "primary")
        procs.append(proc)
        for n in (0, 1, 2):
            while len(procs) - 1 < n:
                rp, rport = start_replica(redis_bin, port, client_cpu, work,
                                          "replica%d" % len(procs))
                procs.append(rp)
                wait_online(port, len(procs) - 1)
            c0 = cpu_seconds(proc.pid)
            rate = benchmark(port, requests, clients, keyspace, client_cpu)
            out["cpu_us"][n] = (cpu_seconds(proc.pid) - c0) * 1e6 / requests
            out["rate"][n] = rate
        # the lag, with the two replicas still attached: the first one's
        rport = int(slave_fields(repl_info(port), 0)["port"])
        acked, applied = [], []
        stop_ev = threading.Event()

        def sample():
            while not stop_ev.is_set():
                # the replica first: a read of the primary after it can
                # only overstate the lag (by one round trip's writes)
                rf = repl_info(rport)
                pf = repl_info(port)
                off = int(pf["master_repl_offset"])
                sf = slave_fields(pf, 0)
                acked.append(off - int(sf.get("offset", off)))
                applied.append(max(0, off - int(rf.get("slave_repl_offset", off))))
                time.sleep(0.05)
        th = threading.Thread(target=sample)
        th.start()
        try:
            rate = benchmark(port, requests, clients, keyspace, client_cpu)
        finally:
            stop_ev.set()
            th.join()
        out["lag_rate"] = rate
        out["lag_acked"] = (sum(acked) / max(1, len(acked)), max(acked or [0]))
        out["lag_applied"] = (sum(applied) / max(1, len(applied)), max(applied or [0]))
        return out
    finally:
        for p in reversed(procs):
            stop(p)
        shutil.rmtree(work, ignore_errors=True)


def main():
    shardis, redis_bin, server_cpu, client_cpu, shard_counts, results_dir = bench_env("1")
    nkeys = int(os.environ.get("KEYS", "1000000"))
    requests = int(os.environ.get("REQUESTS", "2000000"))
    clients = int(os.environ.get("CLIENTS", "50"))
    keyspace = int(os.environ.get("KEYSPACE", "100000"))
    diskless = os.environ.get("SYNC", "disk") == "diskless"
    sync_args = (["--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0"] if diskless
                 else ["--repl-diskless-sync", "no"])
    primaries = [("redis-server", [redis_bin, "--save", "", "--appendonly", "no", "--bind",
                                   "127.0.0.1"] + sync_args)]
    for n in shard_counts:
        primaries.append(("shardis %d shard%s" % (n, "" if n == 1 else "s"),
                          [shardis, "--bind", "127.0.0.1", "--shards", str(n), "--save", ""]
                          + sync_args))
    tmp = tempfile.mkdtemp(prefix="repl-data-")
    load_path, writes_path = os.path.join(tmp, "load.resp"), os.path.join(tmp, "writes.resp")
    gen_load(load_path, nkeys)
    gen_writes(writes_path, nkeys)
    rows = []
    try:
        for name, argv in primaries:
            print("running", name, flush=True)
            row = {"name": name}
            row.update(full_sync(argv, redis_bin, (server_cpu, client_cpu), load_path,
                                 writes_path))
            row.update(lag_and_cpu(argv, redis_bin, (server_cpu, client_cpu), requests, clients,
                                   keyspace))
            rows.append(row)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    cmdline = ("KEYS=%d REQUESTS=%d CLIENTS=%d KEYSPACE=%d SHARDS=\"%s\" SYNC=%s "
               "bench/load/repl.py" % (nkeys, requests, clients, keyspace,
                                       " ".join(map(str, shard_counts)),
                                       "diskless" if diskless else "disk"))
    lines = [
        "# Replication side by side (%s, commit %s)" % (datetime.date.today(), git_commit()),
        "",
        "`%s`. The primary is pinned to CPU %d; the redis-server replicas, redis-cli and "
        "redis-benchmark share CPU %d. Both primaries %s. %s, %s." % (
            cmdline, server_cpu, client_cpu,
            "stream the snapshot to the replica (repl-diskless-sync yes, delay 0)" if diskless
            else "sync through a file (repl-diskless-sync no)",
            os.uname().release, os.uname().machine),
        "",
        "## Full sync of %d keys while 20 %% of the strings are overwritten" % nkeys,
        "",
        "Time from the replica's start to its state=online on the primary, and to having "
        "applied every write; the primary's memory (redis-server: parent RSS plus the fork "
        "child's private pages).",
        "",
        "| primary | keys | replica keys | online (s) | caught up (s) | idle RSS (MB) | "
        "peak (MB) | above idle | writes done before online |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append("| %s | %d | %d | %.2f | %.2f | %.0f | %.0f | %.1f %% | %s |" % (
            r["name"], r["keys"], r["replica_keys"], r["online_s"], r["caught_s"], r["idle_mb"],
            r["peak_mb"], r["peak_pct"], "all" if r["writes_in"] else "some"))
    lines += [
        "",
        "## Replication lag under redis-benchmark -t set -P 16 (%d clients, %d requests)"
        % (clients, requests),
        "",
        "master_repl_offset minus the first replica's offset, sampled every 50 ms while two "
        "replicas are attached: as the primary sees it (the ACKed offset, refreshed once a "
        "second) and as the replica applied it (its slave_repl_offset, read just before the "
        "primary's offset).",
        "",
        "| primary | writes/s | acked lag mean (KB) | acked lag max (KB) | applied lag mean (KB) "
        "| applied lag max (KB) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append("| %s | %.0f | %.0f | %.0f | %.0f | %.0f |" % (
            r["name"], r["lag_rate"], r["lag_acked"][0] / 1024, r["lag_acked"][1] / 1024,
            r["lag_applied"][0] / 1024, r["lag_applied"][1] / 1024))
    lines += [
        "",
        "## The primary's CPU per write (redis-benchmark -t set -P 16, %d requests)" % requests,
        "",
        "| primary | replicas | writes/s | CPU per write (us) | vs no replica |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        base = r["cpu_us"][0]
        for n in (0, 1, 2):
            lines.append("| %s | %d | %.0f | %.3f | %.2fx |" % (
                r["name"], n, r["rate"][n], r["cpu_us"][n], r["cpu_us"][n] / base if base else 0))
    print("\n".join(lines))
    write_results(results_dir, "%s-%s-repl.md" % (datetime.date.today(), git_commit()), lines)


if __name__ == "__main__":
    main()
