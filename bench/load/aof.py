#!/usr/bin/python3
"""The append-only file side by side: write cost, AOF size, load time,
BGREWRITEAOF time.

For redis-server and shardis (1 and 2 shards), each started fresh in a
directory of its own and pinned to SERVER_CPU (shardis with 2 shards too:
both shard threads share that CPU, so the load generator keeps its own),
with redis-benchmark pinned to CLIENT_CPU:

  1. writes: for each mode (appendonly no; appendonly yes with appendfsync
     everysec; appendonly yes with appendfsync always) and each pipeline
     depth, a fresh server takes `redis-benchmark -t set -c CLIENTS -P d
     -n REQUESTS -r KEYSPACE -d DATA_SIZE`: requests/s and the server's CPU
     time per write (utime+stime of the whole process, all its threads, from
     /proc/PID/stat, before and after), in microseconds;
  2. with appendonly yes, after each of those runs: the server is stopped
     (SHUTDOWN), the AOF's size on disk is taken (the files in
     appenddirname, as CONFIG GET names it), and the server is started
     again on the same directory: the time from exec until PING answers
     PONG (the load), and whether DBSIZE is what it was;
  3. rewrite: a fresh server with appendonly yes, appendfsync everysec
     gets REWRITE_KEYS keys (SET of DATA_SIZE-byte values through
     redis-cli --pipe), then BGREWRITEAOF: the time from the command until
     INFO persistence says aof_rewrite_in_progress:0 (and
     aof_rewrite_scheduled:0), the AOF's size after it, and the load time
     of the rewritten AOF.

Every AOF run sets CONFIG SET auto-aof-rewrite-percentage 0 first, so that
no automatic rewrite runs inside a measurement (the table says where a
server refused it). A server that does not start with a mode's arguments
(shardis before its AOF) gets its reason in the table and the script goes
on. If memtier_benchmark is on PATH, step 1 is repeated with it (SET only,
--ratio 1:0, the same connections, depth, keys and value size); otherwise
the report says it was skipped.

    bench/load/aof.py                 (about 4 minutes on a 2-core VM)
    REPEAT=1 REQUESTS=50000 REWRITE_KEYS=200000 bench/load/aof.py   (quick)
    SHARDS=1 MODES="no everysec" bench/load/aof.py

Environment (defaults in brackets): SHARDIS_BIN [build/src/shardis-server],
REDIS_BIN [redis-server], SERVER_CPU [1], CLIENT_CPU [0], SHARDS ["1 2"],
CLIENTS [50], DEPTHS ["1 16"], REQUESTS [200000], KEYSPACE [100000],
DATA_SIZE [100], MODES ["no everysec always"], REWRITE_KEYS [1000000]
(0 skips step 3), REPEAT [3] (rounds of every run, the servers taking
turns; the report gives medians and the range of CPU per write),
RESULTS_DIR [bench/results], SHARDIS_COMMIT [git rev-parse --short HEAD
of this tree] (the commit SHARDIS_BIN was built from, when that is not
this tree as it is, e.g. a `git archive` of HEAD). Results go to
bench/results/<date>-<commit>-aof.md (-2, -3 ... if that name is taken).
"""

import csv
import datetime
import io
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from txn import ROOT, TICKS, bench_env, cpu_seconds, git_commit, write_results  # noqa: E402

sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from harness import Client, ConnectionClosed, Error, encode_command, free_port  # noqa: E402

KNOBS = ("SHARDIS_BIN", "SHARDIS_COMMIT", "REDIS_BIN", "SERVER_CPU", "CLIENT_CPU", "SHARDS",
         "CLIENTS", "DEPTHS", "REQUESTS", "KEYSPACE", "DATA_SIZE", "MODES", "REWRITE_KEYS",
         "REPEAT", "RESULTS_DIR")
MODE_ARGS = {
    "no": ["--appendonly", "no"],
    "everysec": ["--appendonly", "yes", "--appendfsync", "everysec"],
    "always": ["--appendonly", "yes", "--appendfsync", "always"],
}
MODE_NAMES = {"no": "appendonly no", "everysec": "AOF everysec", "always": "AOF always"}


def cpu_with_children(pid):
    """utime+stime+cutime+cstime: the process and its reaped children (a
    fork that did a rewrite counts once the parent has waited for it)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / TICKS


class StartFailed(Exception):
    pass


def command_line():
    """The command as run, with the knobs that were set."""
    env = ["%s=%s" % (k, shlex.quote(os.environ[k])) for k in KNOBS if k in os.environ]
    return " ".join(env + ["bench/load/aof.py"] + [shlex.quote(a) for a in sys.argv[1:]])


def log_tail(work, n=3):
    try:
        with open(os.path.join(work, "server.log"), errors="replace") as f:
            lines = [x.strip() for x in f.read().splitlines() if x.strip()]
    except OSError:
        return ""
    return " / ".join(lines[-n:])


def start(argv, cpus, work, timeout=600):
    """Starts argv in work (its --dir), pinned to cpus; waits for PONG.
    Returns (proc, port, seconds from exec to the first PONG)."""
    port = free_port()
    log = open(os.path.join(work, "server.log"), "a")
    t0 = time.monotonic()
    proc = subprocess.Popen(["taskset", "-c", cpus] + argv + ["--port", str(port), "--dir", work],
                            cwd=work, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    log.close()
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise StartFailed("exited %d: %s" % (proc.returncode, log_tail(work)))
        try:
            with Client(port, timeout=timeout) as c:
                while True:
                    if c.cmd("PING") == "PONG":
                        return proc, port, time.monotonic() - t0
                    time.sleep(0.002)  # -LOADING: ask again on the same connection
        except (OSError, ConnectionClosed):
            time.sleep(0.002)
    stop(proc)
    raise StartFailed("no PONG within %d s" % timeout)


def stop(proc, port=None):
    """SHUTDOWN (which flushes the AOF) if port is given, then by PID."""
    if proc.poll() is None and port is not None:
        try:
            with Client(port, timeout=120) as c:
                c.send_command("SHUTDOWN")
                try:
                    c.read_reply()
                except (OSError, ConnectionClosed):
                    pass
        except (OSError, ConnectionClosed):
            pass
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            pass
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def info_fields(c, section="persistence"):
    out = {}
    reply = c.cmd("INFO", section)
    if isinstance(reply, Error):
        return out
    for line in reply.decode().splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k] = v.strip()
    return out


def config_get(c, name, default):
    reply = c.cmd("CONFIG", "GET", name)
    if isinstance(reply, list) and len(reply) == 2:
        v = reply[1]
        return v.decode() if isinstance(v, bytes) else str(v)
    return default


def prepare_aof(c):
    """No automatic rewrite during a measurement; returns a note if the
    server refused to turn it off."""
    reply = c.cmd("CONFIG", "SET", "auto-aof-rewrite-percentage", "0")
    return None if reply == "OK" else "auto-aof-rewrite-percentage 0 refused (%s)" % reply


def aof_bytes(work, dirname):
    """Sum of the regular files in work/dirname (0 if there is none)."""
    path = os.path.join(work, dirname)
    total = 0
    if os.path.isdir(path):
        for e in os.scandir(path):
            if e.is_file(follow_symlinks=False):
                total += e.stat().st_size
    return total


def dbsize(port):
    with Client(port, timeout=600) as c:
        return int(c.cmd("DBSIZE"))


def client_run(argv, client_cpu):
    out = subprocess.run(["taskset", "-c", str(client_cpu)] + argv, capture_output=True,
                         text=True, stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (argv[0], out.returncode, out.stderr[-500:]))
    return out.stdout


def redis_benchmark(port, depth, cfg, client_cpu):
    """Returns (rps, raw CSV line)."""
    out = client_run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c",
                      str(cfg["clients"]), "-n", str(cfg["requests"]), "-r", str(cfg["keyspace"]),
                      "-d", str(cfg["data_size"]), "-P", str(depth), "-t", "set", "--csv"],
                     client_cpu)
    for row in csv.reader(io.StringIO(out)):
        if row and row[0] == "SET":
            return float(row[1]), ",".join(row)
    raise RuntimeError("no SET line in redis-benchmark output: %r" % out[-500:])


def memtier(port, depth, cfg, client_cpu):
    """Returns (ops/s, the Totals line). SET only, as redis-benchmark."""
    per_conn = max(1, cfg["requests"] // cfg["clients"])
    out = client_run(["memtier_benchmark", "-s", "127.0.0.1", "-p", str(port), "--protocol=redis",
                      "-t", "1", "-c", str(cfg["clients"]), "--pipeline", str(depth),
                      "--ratio", "1:0", "--key-pattern", "R:R", "--key-minimum", "0",
                      "--key-maximum", str(cfg["keyspace"] - 1), "-d", str(cfg["data_size"]),
                      "--requests", str(per_conn), "--hide-histogram"], client_cpu)
    for line in out.splitlines():
        if line.startswith("Totals"):
            return float(line.split()[1]), " ".join(line.split())
    raise RuntimeError("no Totals line in memtier_benchmark output: %r" % out[-500:])


def write_run(name, argv, cpus, mode, depth, cfg, client_cpu, driver):
    """One fresh server, one write run (and, for an AOF mode, its size and
    reload). Returns a dict; "error" is set if the server would not start."""
    work = tempfile.mkdtemp(prefix="aof-bench-")
    row = {"server": name, "mode": mode, "depth": depth, "driver": driver}
    try:
        try:
            proc, port, row["start_s"] = start(argv + MODE_ARGS[mode], cpus, work)
        except StartFailed as e:
            row["error"] = str(e)
            return row
        try:
            with Client(port, timeout=600) as c:
                dirname = config_get(c, "appenddirname", "appendonlydir")
                if mode != "no":
                    row["note"] = prepare_aof(c)
            cpu0 = cpu_seconds(proc.pid)
            t0 = time.monotonic()
            if driver == "redis-benchmark":
                rps, raw = redis_benchmark(port, depth, cfg, client_cpu)
            else:
                rps, raw = memtier(port, depth, cfg, client_cpu)
            row["wall_s"] = time.monotonic() - t0
            row["cpu_s"] = cpu_seconds(proc.pid) - cpu0
            row["rps"], row["raw"] = rps, raw
            row["us_per_write"] = 1e6 * row["cpu_s"] / cfg["requests"]
            row["keys"] = dbsize(port)
            if mode == "no":
                return row
            with Client(port, timeout=600) as c:
                row["aof_enabled"] = info_fields(c).get("aof_enabled")
            stop(proc, port)
            row["aof_mb"] = aof_bytes(work, dirname) / 1048576
            try:
                proc, port, row["load_s"] = start(argv + MODE_ARGS[mode], cpus, work)
            except StartFailed as e:
                row["note"] = "restart on its AOF failed: %s" % e
                return row
            row["loaded"] = dbsize(port)
        finally:
            stop(proc, port)
        return row
    finally:
        shutil.rmtree(work, ignore_errors=True)


def gen_fill(path, nkeys, size):
    with open(path, "wb") as f:
        buf = []
        for i in range(nkeys):
            buf.append(encode_command("SET", "key:%012d" % i, ("v%d:" % i).ljust(size, "x")))
            if len(buf) >= 10000:
                f.write(b"".join(buf))
                buf = []
        f.write(b"".join(buf))


def wait_rewrite(c, timeout=600):
    """Until no AOF rewrite runs or is scheduled; False if the server does
    not report aof_rewrite_in_progress at all."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        f = info_fields(c)
        if "aof_rewrite_in_progress" not in f:
            return False
        if f["aof_rewrite_in_progress"] == "0" and f.get("aof_rewrite_scheduled", "0") == "0":
            return True
        time.sleep(0.005)
    raise RuntimeError("AOF rewrite still running after %d s" % timeout)


def rewrite_run(name, argv, cpus, nkeys, fill_path, client_cpu):
    work = tempfile.mkdtemp(prefix="aof-bench-")
    row = {"server": name, "keys": nkeys}
    try:
        try:
            proc, port, _ = start(argv + MODE_ARGS["everysec"], cpus, work)
        except StartFailed as e:
            row["error"] = str(e)
            return row
        try:
            with Client(port, timeout=600) as c:
                dirname = config_get(c, "appenddirname", "appendonlydir")
                row["note"] = prepare_aof(c)
                wait_rewrite(c)
            t0 = time.monotonic()
            with open(fill_path, "rb") as f:
                out = subprocess.run(["taskset", "-c", str(client_cpu), "redis-cli", "-p",
                                      str(port), "--pipe"], stdin=f, capture_output=True,
                                     text=True)
            if "errors: 0" not in out.stdout:
                raise RuntimeError("redis-cli --pipe: %s %s" % (out.stdout, out.stderr))
            row["fill_s"] = time.monotonic() - t0
            row["dbsize"] = dbsize(port)
            with Client(port, timeout=600) as c:
                row["before_mb"] = aof_bytes(work, dirname) / 1048576
                cpu0 = cpu_with_children(proc.pid)
                t0 = time.monotonic()
                reply = c.cmd("BGREWRITEAOF")
                if isinstance(reply, Error):
                    row["error"] = "BGREWRITEAOF: %s" % reply
                    return row
                if not wait_rewrite(c):
                    row["error"] = "INFO persistence has no aof_rewrite_in_progress"
                    return row
                row["rewrite_s"] = time.monotonic() - t0
                row["rewrite_cpu_s"] = cpu_with_children(proc.pid) - cpu0
                row["after_mb"] = aof_bytes(work, dirname) / 1048576
            stop(proc, port)
            try:
                proc, port, row["load_s"] = start(argv + MODE_ARGS["everysec"], cpus, work)
            except StartFailed as e:
                row["note"] = "restart on the rewritten AOF failed: %s" % e
                return row
            row["loaded"] = dbsize(port)
        finally:
            stop(proc, port)
        return row
    finally:
        shutil.rmtree(work, ignore_errors=True)


def fmt(v, f="%.2f"):
    return "-" if v is None else f % v


def ratio(v, base):
    return "%.2fx" % (v / base) if v is not None and base else "-"


def tree_note():
    """A line if the tree at ROOT differs from its commit in the server's
    sources (a binary built from it is not that commit)."""
    try:
        out = subprocess.check_output(["git", "-C", ROOT, "status", "--porcelain", "--", "src",
                                       "include", "shards"], text=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    files = [x[3:] for x in out.splitlines() if x.strip()]
    if not files:
        return None
    return ("The working tree differs from that commit in %d file(s) under src/, include/, "
            "shards/ (%s%s): a SHARDIS_BIN built from it is the commit plus those changes." % (
                len(files), ", ".join(files[:8]), ", ..." if len(files) > 8 else ""))


def machine_lines():
    out = []
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = re.search(r"^Model name:\s*(.*)$", lscpu, re.M)
        cpus = re.search(r"^CPU\(s\):\s*(.*)$", lscpu, re.M)
        out.append("%s, %s CPUs, kernel %s" % (model.group(1) if model else "?",
                                              cpus.group(1) if cpus else "?",
                                              platform.release()))
    except OSError:
        pass
    out.append("load average at the end: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    return out


def medians(runs, key, fields, spread):
    """One row per key(run), in first-seen order: the median of each field
    over the runs that started, their count ("n", of "of"), and the lowest
    and highest of the spread field ("lo", "hi"). A key none of whose runs
    started gives its first run (with "error")."""
    groups = {}
    for r in runs:
        groups.setdefault(key(r), []).append(r)
    out = []
    for g in groups.values():
        ok = [r for r in g if "error" not in r]
        if not ok:
            out.append(g[0])
            continue
        m = dict(ok[0], n=len(ok), of=len(g))
        for f in fields:
            vals = [r[f] for r in ok if r.get(f) is not None]
            m[f] = statistics.median(vals) if vals else None
        vals = [r[spread] for r in ok if r.get(spread) is not None]
        m["lo"], m["hi"] = (min(vals), max(vals)) if vals else (None, None)
        out.append(m)
    return out


def with_range(m, f, form):
    """form % median, and (lowest-highest) when there were several runs."""
    if m.get(f) is None:
        return "-"
    if m.get("n", 1) > 1 and m["lo"] is not None:
        return (form + " (" + form + "-" + form + ")") % (m[f], m["lo"], m["hi"])
    return form % m[f]


def report(runs, rewrite_runs, cfg, servers, memtier_on, started):
    commit = cfg["commit"]
    rows = medians(runs, lambda r: (r["server"], r["mode"], r["depth"], r["driver"]),
                   ("rps", "us_per_write", "keys", "aof_mb", "load_s"), "us_per_write")
    rewrites = medians(rewrite_runs, lambda r: r["server"],
                       ("dbsize", "fill_s", "before_mb", "rewrite_s", "rewrite_cpu_s",
                        "after_mb", "load_s"), "rewrite_s")
    lines = [
        "# The AOF side by side (%s, commit %s)" % (datetime.date.today(), commit),
        "",
        "Command: `%s` (started %s, %.0f s)." % (command_line(), started,
                                                time.monotonic() - cfg["t0"]),
        "",
    ]
    if os.environ.get("SHARDIS_COMMIT"):
        lines += ["shardis binary: `%s`, built %s from commit %s (SHARDIS_COMMIT)." % (
            cfg["shardis"], cfg["built"], cfg["commit"]), ""]
    else:
        lines += ["shardis binary: `%s`, built %s; the tree's commit and state were read "
                  "when the run started." % (cfg["shardis"], cfg["built"]), ""]
    if cfg["tree_note"]:
        lines += [cfg["tree_note"], ""]
    lines += [
        "Servers: %s. Each is pinned to CPU %s (shardis with 2 shards: both shard threads "
        "there), redis-benchmark to CPU %s. Every run starts a fresh server in a fresh "
        "temporary --dir, with --save ''." % (
            "; ".join("%s: `%s`" % (n, " ".join(shlex.quote(a) for a in a_))
                      for n, a_, _ in servers), cfg["server_cpu"], cfg["client_cpu"]),
        "",
        "Writes: `redis-benchmark -t set -c %d -n %d -r %d -d %d -P <depth> --csv`. CPU per "
        "write: the server's utime+stime (all threads, /proc/PID/stat, 10 ms ticks) over the "
        "run / %d. AOF size: the files in appenddirname after SHUTDOWN; load: exec to the "
        "first PONG on the same --dir. auto-aof-rewrite-percentage is 0 in every AOF run. "
        "Each figure is the median of %d run(s), each on a fresh server, the servers taking "
        "turns (round after round); CPU per write also gives (lowest-highest)." % (
            cfg["clients"], cfg["requests"], cfg["keyspace"], cfg["data_size"],
            cfg["requests"], cfg["repeat"]),
        "",
        "| server | mode | depth | driver | writes/s | CPU per write (us) | CPU / redis | "
        "writes/s / redis | keys | AOF (MB) | load (s) | load / redis |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    base = {(r["mode"], r["depth"], r["driver"]): r for r in rows
            if r["server"] == "redis-server" and "error" not in r}
    notes = []
    for r in rows:
        b = base.get((r["mode"], r["depth"], r["driver"]), {})
        if "error" in r:
            lines.append("| %s | %s | %d | %s | did not start | | | | | | | |" % (
                r["server"], MODE_NAMES[r["mode"]], r["depth"], r["driver"]))
            notes.append("%s, %s: %s" % (r["server"], MODE_NAMES[r["mode"]], r["error"]))
            continue
        lines.append("| %s | %s | %d | %s | %.0f | %s | %s | %s | %d | %s | %s | %s |" % (
            r["server"], MODE_NAMES[r["mode"]], r["depth"], r["driver"], r["rps"],
            with_range(r, "us_per_write", "%.2f"), ratio(r["us_per_write"], b.get("us_per_write")),
            ratio(r["rps"], b.get("rps")), r["keys"], fmt(r.get("aof_mb"), "%.1f"),
            fmt(r.get("load_s")), ratio(r.get("load_s"), b.get("load_s"))))
        if r["n"] < r["of"]:
            notes.append("%s, %s P%d: %d of %d runs did not start" % (
                r["server"], MODE_NAMES[r["mode"]], r["depth"], r["of"] - r["n"], r["of"]))
    for r in runs:
        if "error" in r:
            notes.append("%s, %s: %s" % (r["server"], MODE_NAMES[r["mode"]], r["error"]))
            continue
        if r.get("note"):
            notes.append("%s, %s P%d: %s" % (r["server"], MODE_NAMES[r["mode"]], r["depth"],
                                             r["note"]))
        if r["mode"] != "no" and r.get("aof_enabled") not in (None, "1"):
            notes.append("%s, %s P%d: INFO persistence aof_enabled:%s" % (
                r["server"], MODE_NAMES[r["mode"]], r["depth"], r["aof_enabled"]))
        if "loaded" in r and r["loaded"] != r["keys"]:
            notes.append("%s, %s P%d: loaded %d keys of %d" % (
                r["server"], MODE_NAMES[r["mode"]], r["depth"], r["loaded"], r["keys"]))
    for name in dict.fromkeys(r["server"] for r in runs):
        st = sorted(r["start_s"] for r in runs if r["server"] == name and "start_s" in r)
        if st:
            notes.append("%s: exec to the first PONG on an empty --dir, median of %d starts: "
                         "%.3f s (what a load time includes besides the load)" % (
                             name, len(st), st[len(st) // 2]))
    if not memtier_on:
        notes.append("memtier_benchmark is not on PATH: its runs were skipped.")
    if rewrites:
        lines += [
            "",
            "BGREWRITEAOF: a fresh server with appendonly yes, appendfsync everysec, filled "
            "with %d keys (`SET key:<12 digits> <%d bytes>` through redis-cli --pipe), then "
            "BGREWRITEAOF; time from the command until INFO persistence shows "
            "aof_rewrite_in_progress:0 and aof_rewrite_scheduled:0 (polled every 5 ms), the "
            "server's CPU in that time (utime+stime+cutime+cstime: redis-server's fork child "
            "counts, it is reaped before aof_rewrite_in_progress goes to 0), the AOF before "
            "and after, and the load of the rewritten AOF." % (cfg["rewrite_keys"],
                                                               cfg["data_size"]),
            "",
            "Medians of %d run(s); BGREWRITEAOF also gives (lowest-highest)." % cfg["repeat"],
            "",
            "| server | keys | fill (s) | AOF before (MB) | BGREWRITEAOF (s) | / redis | "
            "server CPU in it (s) | AOF after (MB) | load after (s) | / redis |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        rb = next((r for r in rewrites if r["server"] == "redis-server" and "error" not in r),
                  {})
        for r in rewrites:
            if "error" in r:
                lines.append("| %s | %d | failed | | | | | | | |" % (r["server"], r["keys"]))
                continue
            lines.append("| %s | %d | %.2f | %.1f | %s | %s | %.2f | %.1f | %s | %s |" % (
                r["server"], r["dbsize"], r["fill_s"], r["before_mb"],
                with_range(r, "rewrite_s", "%.2f"), ratio(r["rewrite_s"], rb.get("rewrite_s")),
                r["rewrite_cpu_s"], r["after_mb"], fmt(r.get("load_s")),
                ratio(r.get("load_s"), rb.get("load_s"))))
        for r in rewrite_runs:
            if "error" in r:
                notes.append("%s, BGREWRITEAOF: %s" % (r["server"], r["error"]))
                continue
            if r.get("note"):
                notes.append("%s, BGREWRITEAOF run: %s" % (r["server"], r["note"]))
            if "loaded" in r and r["loaded"] != r["dbsize"]:
                notes.append("%s, after BGREWRITEAOF: loaded %d keys of %d" % (
                    r["server"], r["loaded"], r["dbsize"]))
    if notes:
        lines += ["", "Notes:", ""] + ["- " + n for n in dict.fromkeys(notes)]
    lines += ["", "Machine: " + "; ".join(machine_lines()), "", "Raw client lines:", "", "```"]
    lines += ["%s %s P%d %s: %s" % (r["server"], r["mode"], r["depth"], r["driver"], r["raw"])
              for r in runs if "raw" in r]
    lines += ["```"]
    return commit, lines


def main():
    shardis, redis_bin, server_cpu, client_cpu, shard_counts, results_dir = bench_env("1 2")
    cfg = {
        "t0": time.monotonic(), "server_cpu": server_cpu, "client_cpu": client_cpu,
        "clients": int(os.environ.get("CLIENTS", "50")),
        "requests": int(os.environ.get("REQUESTS", "200000")),
        "keyspace": int(os.environ.get("KEYSPACE", "100000")),
        "data_size": int(os.environ.get("DATA_SIZE", "100")),
        "rewrite_keys": int(os.environ.get("REWRITE_KEYS", "1000000")),
        "repeat": max(1, int(os.environ.get("REPEAT", "3"))),
        "commit": os.environ.get("SHARDIS_COMMIT") or git_commit(),
        "tree_note": None if os.environ.get("SHARDIS_COMMIT") else tree_note(),
        "shardis": os.path.abspath(shardis),
    }
    depths = [int(x) for x in os.environ.get("DEPTHS", "1 16").split()]
    modes = os.environ.get("MODES", "no everysec always").split()
    for m in modes:
        if m not in MODE_ARGS:
            sys.exit("aof.py: unknown mode %r in MODES (no, everysec, always)" % m)
    for tool in ("redis-benchmark", "redis-cli", "taskset"):
        if not shutil.which(tool):
            sys.exit("aof.py: %s not found (bash deploy/setup.sh installs it)" % tool)
    if not os.access(shardis, os.X_OK):
        sys.exit("aof.py: no shardis binary at %s (set SHARDIS_BIN)" % shardis)
    cfg["built"] = datetime.datetime.fromtimestamp(os.path.getmtime(shardis)).strftime(
        "%Y-%m-%d %H:%M:%S")
    memtier_on = shutil.which("memtier_benchmark") is not None
    if not memtier_on:
        print("memtier_benchmark not on PATH: skipping its runs", flush=True)
    started = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    cpus = str(server_cpu)
    servers = [("redis-server", [redis_bin, "--save", "", "--bind", "127.0.0.1"], cpus)]
    for n in shard_counts:
        servers.append(("shardis %d shard%s" % (n, "" if n == 1 else "s"),
                        [os.path.abspath(shardis), "--bind", "127.0.0.1", "--shards", str(n),
                         "--save", ""], cpus))
    drivers = ["redis-benchmark"] + (["memtier"] if memtier_on else [])
    rows, rewrites = [], []
    for _ in range(cfg["repeat"]):
        for name, argv, c in servers:
            for mode in modes:
                for depth in depths:
                    for driver in drivers:
                        r = write_run(name, argv, c, mode, depth, cfg, client_cpu, driver)
                        rows.append(r)
                        print("%-16s %-13s P%-3d %s" % (name, MODE_NAMES[mode], depth, r.get(
                            "error") or "%.0f writes/s, %.2f us/write, AOF %s MB, load %s s" % (
                                r["rps"], r["us_per_write"], fmt(r.get("aof_mb"), "%.1f"),
                                fmt(r.get("load_s")))), flush=True)
    if cfg["rewrite_keys"] > 0:
        tmp = tempfile.mkdtemp(prefix="aof-data-")
        try:
            fill = os.path.join(tmp, "fill.resp")
            gen_fill(fill, cfg["rewrite_keys"], cfg["data_size"])
            for _ in range(cfg["repeat"]):
                for name, argv, c in servers:
                    r = rewrite_run(name, argv, c, cfg["rewrite_keys"], fill, client_cpu)
                    rewrites.append(r)
                    print("%-16s BGREWRITEAOF %s" % (name, r.get("error") or "%.2f s (%d keys)" % (
                        r["rewrite_s"], r["dbsize"])), flush=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    commit, lines = report(rows, rewrites, cfg, servers, memtier_on, started)
    print("\n".join(lines))
    base = "%s-%s-aof" % (datetime.date.today(), commit)
    name, n = base + ".md", 2
    while os.path.exists(os.path.join(results_dir, name)):
        name, n = "%s-%d.md" % (base, n), n + 1
    write_results(results_dir, name, lines)


if __name__ == "__main__":
    main()
