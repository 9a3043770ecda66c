#!/usr/bin/python3
"""Memory per element: Debian's redis-server, then shardis, each started fresh
for each data set on the same loopback port (so that RSS says what that data
set costs), pinned to one CPU.

Data sets (issue 3, issue 12):
  strings  N string keys "key:<12 digits>" (16 bytes, redis-benchmark's
           form) with 16-byte values
  strings3 the same keys with 3-byte values (redis-benchmark's default -d 3)
  volatile the strings data set, each key with a TTL (SET ... EX)
  hash     one hash of N fields ("field:<i>" -> "value:<i>")
  set      one set of N members ("member:<i>")
  zset     one sorted set of N members with scores i * 1.5
  hashes   SMALL_HASHES hashes ("h:<i>") of 10 fields each
           ("f0".."f9" -> "v<i>"), which stay in the compact encoding
For each: used_memory (INFO memory) and RSS (/proc/PID/status VmRSS) before
and after loading, and the difference divided by the number of elements
(fields, members; for the small hashes, per hash). Loading is pipelined
from this process, checked (the final HLEN/SCARD/ZCARD/DBSIZE must match).

Prints a table and writes it to bench/results/<date>-<shortcommit>-memory.md.

    bench/load/memory.py
    N=100000 SMALL_HASHES=100000 bench/load/memory.py   (a quick run)

Environment (defaults in brackets):
  SHARDIS_BIN   shardis binary [build/src/shardis-server]
  REDIS_BIN     redis-server binary [redis-server]
  BENCH_PORT    loopback port [7383]
  SERVER_CPU    CPU the server is pinned to [1]
  N             elements of the one-key data sets [1000000]
  SMALL_HASHES  number of 10-field hashes [1000000]
  SETS          which data sets, space-separated [hash set zset hashes]
                (strings strings3 volatile: N=632000 is the issue 12 figure)
  RESULTS_DIR   where the .md goes [bench/results]
"""

import datetime
import os
import shlex
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from procstat import env_int as _env_int  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOST = "127.0.0.1"  # loopback only
PARAM_NAMES = ("SHARDIS_BIN", "REDIS_BIN", "BENCH_PORT", "SERVER_CPU", "N", "SMALL_HASHES",
               "SETS", "RESULTS_DIR")


def die(msg):
    sys.stderr.write("memory: %s\n" % msg)
    sys.exit(1)


def env_int(name, default):
    return _env_int(name, default, "memory")


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    """Pipelined raw RESP: send many commands, then count their replies."""

    def __init__(self, port):
        self.sock = socket.create_connection((HOST, port), timeout=60)
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                die("server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _need(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                die("server closed the connection")
            self.buf += chunk

    def reply(self):
        line = self._line()
        t = line[:1]
        if t == b"-":
            die("error reply: %r" % line)
        if t in (b"+", b":"):
            return line[1:]
        if t == b"$":
            n = int(line[1:])
            if n < 0:
                return None
            self._need(n + 2)
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return v
        if t == b"*":
            return [self.reply() for _ in range(int(line[1:]))]
        die("unexpected reply %r" % line)

    def pipeline(self, commands, batch=1000):
        for i in range(0, len(commands), batch):
            part = commands[i:i + batch]
            self.sock.sendall(b"".join(part))
            for _ in part:
                self.reply()

    def cmd(self, *args):
        self.sock.sendall(encode(*args))
        return self.reply()


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def used_memory(conn):
    text = conn.cmd("INFO", "memory").decode()
    for line in text.splitlines():
        if line.startswith("used_memory:"):
            return int(line.split(":")[1])
    die("no used_memory in INFO memory")


def load(conn, name, n, small):
    """Loads a data set; returns (elements, what they are, check)."""
    if name == "hash":
        cmds = [encode("HSET", "big", *[x for i in range(j, min(j + 1000, n))
                                        for x in ("field:%d" % i, "value:%d" % i)])
                for j in range(0, n, 1000)]
        conn.pipeline(cmds, 16)
        return n, "field", int(conn.cmd("HLEN", "big"))
    if name == "set":
        cmds = [encode("SADD", "big", *["member:%d" % i for i in range(j, min(j + 1000, n))])
                for j in range(0, n, 1000)]
        conn.pipeline(cmds, 16)
        return n, "member", int(conn.cmd("SCARD", "big"))
    if name == "zset":
        cmds = [encode("ZADD", "big", *[x for i in range(j, min(j + 1000, n))
                                        for x in (repr(i * 1.5), "member:%d" % i)])
                for j in range(0, n, 1000)]
        conn.pipeline(cmds, 16)
        return n, "member", int(conn.cmd("ZCARD", "big"))
    if name in ("strings", "strings3", "volatile"):
        # redis-benchmark's key form (16 bytes: key:<12 digits>); 16-byte
        # values, or its default 3-byte ones; "volatile" with a TTL
        val = b"xxx" if name == "strings3" else None
        cmds = []
        for i in range(n):
            v = val or (b"v%015d" % i)
            if name == "volatile":
                cmds.append(encode("SET", "key:%012d" % i, v, "EX", 100000))
            else:
                cmds.append(encode("SET", "key:%012d" % i, v))
        conn.pipeline(cmds, 1000)
        return n, "key", int(conn.cmd("DBSIZE"))
    cmds = [encode("HSET", "h:%d" % i, *[x for f in range(10) for x in ("f%d" % f, "v%d" % i)])
            for i in range(small)]
    conn.pipeline(cmds, 1000)
    return small, "hash of 10 fields", int(conn.cmd("DBSIZE"))


def start(argv, port, cpu):
    log = tempfile.TemporaryFile()
    # in a directory of its own: no dump.rdb of another run is loaded
    proc = subprocess.Popen(["taskset", "-c", cpu] + argv, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, cwd=tempfile.mkdtemp(prefix="memory."))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            c = Conn(port)
            if c.cmd("PING") == b"PONG":
                return proc, c
        except OSError:
            time.sleep(0.05)
    proc.kill()
    proc.wait()
    log.seek(0)
    die("server did not start: %s" % log.read().decode(errors="replace")[-2000:])


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def measure(server, argv, port, cpu, name, n, small):
    proc, conn = start(argv, port, cpu)
    try:
        time.sleep(0.2)
        u0, r0 = used_memory(conn), rss_bytes(proc.pid)
        t0 = time.monotonic()
        count, unit, check = load(conn, name, n, small)
        secs = time.monotonic() - t0
        if check != count:
            die("%s %s: loaded %d elements, the server says %d" % (server, name, count, check))
        time.sleep(0.5)
        u1, r1 = used_memory(conn), rss_bytes(proc.pid)
    finally:
        conn.sock.close()
        stop(proc)
    row = {"count": count, "unit": unit, "used": u1 - u0, "rss": r1 - r0, "secs": secs}
    sys.stderr.write("%-8s %-7s %9d x %-18s used %+12d (%.1f B each)  rss %+12d (%.1f B each)"
                     "  load %.1fs\n" % (server, name, count, unit, row["used"],
                                         row["used"] / count, row["rss"], row["rss"] / count,
                                         secs))
    return row


def main():
    if len(sys.argv) > 1:
        print(__doc__)
        sys.exit(0 if sys.argv[1] in ("-h", "--help") else 2)
    shardis = os.environ.get("SHARDIS_BIN") or os.path.join(ROOT, "build/src/shardis-server")
    redis = os.environ.get("REDIS_BIN") or "redis-server"
    port = env_int("BENCH_PORT", 7383)
    cpu = os.environ.get("SERVER_CPU") or "1"
    n = env_int("N", 1000000)
    small = env_int("SMALL_HASHES", 1000000)
    sets = (os.environ.get("SETS") or "hash set zset hashes").split()
    results_dir = os.environ.get("RESULTS_DIR") or os.path.join(ROOT, "bench/results")
    if not os.access(shardis, os.X_OK):
        die("no shardis binary at %s (bash deploy/build.sh release, or set SHARDIS_BIN)"
            % shardis)
    servers = [("redis", [redis, "--bind", HOST, "--port", str(port), "--save", "",
                          "--appendonly", "no"]),
               ("shardis", [shardis, "--bind", HOST, "--port", str(port), "--shards", "1",
                            "--save", ""])]
    rows = {}
    for name in sets:
        if name not in ("hash", "set", "zset", "hashes", "strings", "strings3", "volatile"):
            die("unknown data set %r" % name)
        for server, argv in servers:
            rows[(server, name)] = measure(server, argv, port, cpu, name, n, small)
    lines = ["| data set | elements | redis used B/elem | shardis used B/elem | used ratio"
             " | redis RSS B/elem | shardis RSS B/elem | RSS ratio |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name in sets:
        r, s = rows[("redis", name)], rows[("shardis", name)]
        c = r["count"]
        lines.append("| %s | %d x %s | %.1f | %.1f | %.2f | %.1f | %.1f | %.2f |" % (
            name, c, r["unit"], r["used"] / c, s["used"] / c, s["used"] / max(r["used"], 1),
            r["rss"] / c, s["rss"] / c, s["rss"] / max(r["rss"], 1)))
    table = "\n".join(lines)
    print("\n" + table + "\n")
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "nocommit"
    cmdline = " ".join("%s=%s" % (k, shlex.quote(os.environ[k]))
                       for k in PARAM_NAMES if os.environ.get(k)) + " bench/load/memory.py"
    os.makedirs(results_dir, exist_ok=True)
    path = os.path.join(results_dir, "%s-%s-memory.md" % (datetime.date.today(), commit))
    with open(path, "w") as f:
        f.write("# Memory per element: redis-server vs shardis\n\n")
        f.write("- command: `%s`\n" % cmdline.strip())
        f.write("- date: %s\n" % datetime.datetime.now().astimezone().isoformat(" ", "seconds"))
        f.write("- commit: %s\n" % commit)
        f.write("- kernel: %s\n" % os.uname().release)
        f.write("- each server started fresh per data set, pinned to CPU %s; shardis with"
                " 1 shard; redis-server with --save '' --appendonly no\n" % cpu)
        f.write("- B/elem = (after - before) / elements, used_memory from INFO memory and"
                " VmRSS from /proc\n\n")
        f.write(table + "\n")
    sys.stderr.write("wrote %s\n" % path)
    subprocess.call([sys.executable,  # SVG charts beside it (bench/plot.py), status ignored
                     os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "plot.py"), path])


if __name__ == "__main__":
    main()
