#!/usr/bin/python3
"""Pub/sub fan-out benchmark: Debian's redis-server, then shardis, one after
the other on the same loopback port, each pinned to one CPU, with the load
(this script) pinned to another.

For each server: SUBSCRIBERS connections subscribe to one channel, one
publisher connection publishes MESSAGES messages of MSG_SIZE bytes,
pipelined in batches of BATCH, and every subscriber reads every message
(a selector loop in this process). The publisher keeps at most WINDOW
messages without a reply and never runs more than MAX_LAG messages ahead
of the slowest subscriber, so server output buffers stay small and both
servers get the same flow control. Each of ROUNDS rounds is measured:
deliveries per second (MESSAGES x SUBSCRIBERS over the wall time from the
first PUBLISH to the last byte read) and the server's CPU time (utime +
stime of the whole process from /proc/PID/stat) per delivered message.
The first subscriber's stream is checked byte for byte; the others' byte
counts; every PUBLISH must reply SUBSCRIBERS.

Prints a table and writes it to bench/results/<date>-<shortcommit>-pubsub.md.

    bench/load/pubsub_fanout.py
    SHARDS=4 SERVER_CPU=1-4 bench/load/pubsub_fanout.py

Environment (defaults in brackets):
  SHARDIS_BIN   shardis binary [build/src/shardis-server]; must exec the
                server itself (its PID is the one measured)
  SHARDS        --shards for shardis [1]
  SHARDIS_ARGS  extra shardis arguments, word-split []
  REDIS_BIN     redis-server binary [redis-server]
  REDIS_ARGS    extra redis-server arguments, word-split []
  BENCH_PORT    loopback port both servers use, in turn [7381]
  SERVER_CPU    CPUs the server is pinned to (taskset -c list) [1]
  CLIENT_CPU    CPUs this script is pinned to [0]
  SUBSCRIBERS   subscriber connections [100]
  MESSAGES      messages published per round [100000]
  MSG_SIZE      payload bytes [100]
  BATCH         PUBLISH commands per write [100]
  WINDOW        most messages without a reply [1000]
  MAX_LAG       most messages the slowest subscriber may be behind [2000]
  ROUNDS        measured rounds per server, after one unmeasured warm-up
                round of MESSAGES/10 messages [3]
  RESULTS_DIR   where the .md goes [bench/results]
"""

import datetime
import os
import selectors
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from procstat import env_int as _env_int  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOST = "127.0.0.1"  # loopback only
CHANNEL = b"fanout"
PARAM_NAMES = ("SHARDIS_BIN", "SHARDS", "SHARDIS_ARGS", "REDIS_BIN", "REDIS_ARGS",
               "BENCH_PORT", "SERVER_CPU", "CLIENT_CPU", "SUBSCRIBERS", "MESSAGES",
               "MSG_SIZE", "BATCH", "WINDOW", "MAX_LAG", "ROUNDS", "RESULTS_DIR")


def env_int(name, default):
    return _env_int(name, default, "pubsub_fanout")


def die(msg):
    sys.stderr.write("pubsub_fanout: %s\n" % msg)
    sys.exit(1)


def say(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def parse_cpus(spec):
    """taskset -c style list ("0", "1-4", "0,2") -> set of ints."""
    cpus = set()
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            a, b = part.split("-", 1)
            cpus.update(range(int(a), int(b) + 1))
        else:
            cpus.add(int(part))
    if not cpus:
        raise ValueError("empty CPU list %r" % spec)
    return cpus


def encode_command(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def cpu_ticks(pid):
    """utime + stime of the whole process (all threads), in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    # fields[0] is field 3 (state); utime is field 14, stime field 15
    return int(fields[11]) + int(fields[12])


def ping_ok(port, timeout=0.5):
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class ServerProcess:
    def __init__(self, name, argv, cpu, workdir):
        self.name = name
        self.argv = argv
        self.cpu = cpu
        self.log_path = os.path.join(workdir, name + ".log")
        self.proc = None

    def start(self, port):
        if ping_ok(port):
            die("something already answers on %s:%d; set BENCH_PORT" % (HOST, port))
        say("starting %s on %s:%d, CPU %s: %s"
            % (self.name, HOST, port, self.cpu, " ".join(shlex.quote(a) for a in self.argv)))
        log = open(self.log_path, "wb")
        # taskset execs the server: the child's PID is the server's own
        self.proc = subprocess.Popen(["taskset", "-c", self.cpu] + self.argv,
                                     stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, cwd=tempfile.gettempdir())
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if ping_ok(port):
                return
            time.sleep(0.1)
        tail = open(self.log_path, "rb").read()[-2000:].decode("utf-8", "replace")
        self.stop()
        die("%s did not answer PING on %s:%d within 10 s\n%s" % (self.name, HOST, port, tail))

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        """SIGTERM our own process by PID, wait up to 10 s, then SIGKILL."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                say("pid %d did not exit on SIGTERM; sending SIGKILL" % self.proc.pid)
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def recv_until(sock, want, timeout=10):
    data = b""
    deadline = time.monotonic() + timeout
    while len(data) < len(want):
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed, got %r, wanted %r" % (data, want))
        data += chunk
    if data != want:
        raise RuntimeError("got %r, wanted %r" % (data, want))


class Fanout:
    """The connections of one server: SUBSCRIBERS subscribers, one publisher."""

    def __init__(self, port, nsubs, msg_size, batch, window, max_lag):
        self.nsubs = nsubs
        self.msg_size = msg_size
        self.batch = batch
        self.window = window
        self.max_lag = max_lag
        self.subs = []
        self.pub = None
        self.sel = selectors.DefaultSelector()
        for i in range(nsubs):
            s = socket.create_connection((HOST, port), timeout=10)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(encode_command("SUBSCRIBE", CHANNEL))
            recv_until(s, b"*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:1\r\n"
                       % (len(CHANNEL), CHANNEL))
            s.setblocking(False)
            self.subs.append(s)
            self.sel.register(s, selectors.EVENT_READ, i)
        self.pub = socket.create_connection((HOST, port), timeout=10)
        self.pub.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.pub.sendall(encode_command("PUBSUB", "NUMSUB", CHANNEL))
        recv_until(self.pub, b"*2\r\n$%d\r\n%s\r\n:%d\r\n" % (len(CHANNEL), CHANNEL, nsubs))
        self.pub.setblocking(False)
        self.sel.register(self.pub, selectors.EVENT_READ, -1)
        self.reply = b":%d\r\n" % nsubs

    def payload(self, round_no, i):
        head = b"%d:%09d:" % (round_no, i)
        return head + b"x" * (self.msg_size - len(head))

    def frame(self, payload):
        return (b"*3\r\n$7\r\nmessage\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
                % (len(CHANNEL), CHANNEL, len(payload), payload))

    def run(self, round_no, nmsgs, pid, timeout=300):
        payloads = [self.payload(round_no, i) for i in range(nmsgs)]
        if any(len(p) != self.msg_size for p in payloads):
            die("MSG_SIZE %d is too small for the sequence number" % self.msg_size)
        batches = [b"".join(encode_command("PUBLISH", CHANNEL, p)
                            for p in payloads[k:k + self.batch])
                   for k in range(0, nmsgs, self.batch)]
        frame_len = len(self.frame(payloads[0]))
        expected0 = b"".join(self.frame(p) for p in payloads)
        want_bytes = frame_len * nmsgs
        got = [0] * self.nsubs
        first_stream = bytearray()
        replies = bytearray()
        reply_bytes_wanted = len(self.reply) * nmsgs
        sent = 0
        next_batch = 0
        pending = b""
        t0_ticks = cpu_ticks(pid)
        t0 = time.monotonic()
        deadline = t0 + timeout
        while min(got) < want_bytes or len(replies) < reply_bytes_wanted:
            if time.monotonic() > deadline:
                raise RuntimeError("round %d not done after %d s: %d/%d bytes on the slowest "
                                   "subscriber, %d/%d reply bytes"
                                   % (round_no, timeout, min(got), want_bytes, len(replies),
                                      reply_bytes_wanted))
            # publish while within the reply window and the subscriber lag;
            # a batch once started is written out whole
            replied = len(replies) // len(self.reply)
            slowest = min(got) // frame_len
            if (not pending and next_batch < len(batches) and sent - replied < self.window
                    and sent - slowest < self.max_lag):
                pending = batches[next_batch]
                sent += min(self.batch, nmsgs - next_batch * self.batch)
                next_batch += 1
            busy = bool(pending)
            if pending:
                try:
                    n = self.pub.send(pending)
                    pending = pending[n:]
                except BlockingIOError:
                    pass
            for key, _ in self.sel.select(0 if busy else 1.0):
                i = key.data
                sock = key.fileobj
                while True:
                    try:
                        chunk = sock.recv(1 << 18)
                    except (BlockingIOError, InterruptedError):
                        break
                    if not chunk:
                        raise RuntimeError("server closed %s"
                                           % ("the publisher" if i < 0 else "subscriber %d" % i))
                    if i < 0:
                        replies += chunk
                    else:
                        got[i] += len(chunk)
                        if i == 0:
                            first_stream += chunk
                    if len(chunk) < (1 << 18):
                        break
        wall = time.monotonic() - t0
        ticks = cpu_ticks(pid) - t0_ticks
        if bytes(replies) != self.reply * nmsgs:
            bad = next(k for k in range(0, len(replies), len(self.reply))
                       if replies[k:k + len(self.reply)] != self.reply)
            raise RuntimeError("PUBLISH reply %d is %r, expected %r"
                               % (bad // len(self.reply), bytes(replies[bad:bad + 16]), self.reply))
        if bytes(first_stream) != expected0:
            raise RuntimeError("subscriber 0 did not get every message in order")
        if any(g != want_bytes for g in got):
            raise RuntimeError("subscribers got %r bytes, expected %d each"
                               % (sorted(set(got)), want_bytes))
        return wall, ticks

    def close(self):
        self.sel.close()
        for s in self.subs + [self.pub]:
            if s is not None:
                s.close()


def git(*args):
    try:
        return subprocess.run(["git", "-C", ROOT] + list(args), capture_output=True,
                              text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def lscpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def main():
    if len(sys.argv) > 1:
        if sys.argv[1] in ("-h", "--help"):
            print(__doc__)
            return 0
        die("takes no arguments (see --help)")

    cmdline = " ".join("%s=%s" % (n, shlex.quote(os.environ[n]))
                       for n in PARAM_NAMES if n in os.environ)
    cmdline = (cmdline + " " if cmdline else "") + " ".join(shlex.quote(a) for a in sys.argv)

    os.chdir(ROOT)
    shardis_bin = os.environ.get("SHARDIS_BIN") or "build/src/shardis-server"
    shards = env_int("SHARDS", 1)
    redis_bin = os.environ.get("REDIS_BIN") or "redis-server"
    port = env_int("BENCH_PORT", 7381)
    server_cpu = os.environ.get("SERVER_CPU") or "1"
    client_cpu = os.environ.get("CLIENT_CPU") or "0"
    nsubs = env_int("SUBSCRIBERS", 100)
    nmsgs = env_int("MESSAGES", 100000)
    msg_size = env_int("MSG_SIZE", 100)
    batch = env_int("BATCH", 100)
    window = env_int("WINDOW", 1000)
    max_lag = env_int("MAX_LAG", 2000)
    rounds = env_int("ROUNDS", 3)
    results_dir = os.environ.get("RESULTS_DIR") or "bench/results"
    shardis_extra = shlex.split(os.environ.get("SHARDIS_ARGS", ""))
    redis_extra = shlex.split(os.environ.get("REDIS_ARGS", ""))

    for tool in ("taskset", "git", "lscpu"):
        if shutil.which(tool) is None:
            die("%s not found" % tool)
    redis_path = shutil.which(redis_bin)
    if redis_path is None:
        die("redis-server not found: %s" % redis_bin)
    if not os.access(shardis_bin, os.X_OK):
        die("no shardis binary at %s (bash deploy/build.sh release, or set SHARDIS_BIN)"
            % shardis_bin)
    shardis_bin = os.path.abspath(shardis_bin)
    try:
        server_cpus = parse_cpus(server_cpu)
        client_cpus = parse_cpus(client_cpu)
        os.sched_setaffinity(0, client_cpus)
    except (ValueError, OSError) as e:
        die("cannot pin to CLIENT_CPU=%s: %s" % (client_cpu, e))
    if subprocess.run(["taskset", "-c", server_cpu, "true"]).returncode != 0:
        die("cannot pin to SERVER_CPU=%s" % server_cpu)
    if server_cpus & client_cpus:
        say("warning: server and client share CPUs %s" % sorted(server_cpus & client_cpus))
    hz = os.sysconf("SC_CLK_TCK")

    # A signal ends the run through the finally blocks below.
    def on_signal(signum, _frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)  # also when started with SIGINT ignored
    signal.signal(signal.SIGHUP, on_signal)

    workdir = tempfile.mkdtemp(prefix="pubsub_fanout.")
    servers = [
        ("redis", [redis_path, "--bind", HOST, "--port", str(port), "--save", "",
                   "--appendonly", "no"] + redis_extra),
        ("shardis", [shardis_bin, "--bind", HOST, "--port", str(port),
                     "--shards", str(shards)] + shardis_extra),
    ]
    results = {}
    versions = {}
    load_before = open("/proc/loadavg").read().split()[:3]
    try:
        for name, argv in servers:
            srv = ServerProcess(name, argv, server_cpu, workdir)
            try:
                srv.start(port)
                with socket.create_connection((HOST, port), timeout=10) as s:
                    s.sendall(encode_command("INFO", "server"))
                    time.sleep(0.1)
                    info = s.recv(65536).decode("utf-8", "replace")
                versions[name] = next((line.split(":", 1)[1].strip()
                                       for line in info.splitlines()
                                       if line.startswith("redis_version:")), "?")
                fan = Fanout(port, nsubs, msg_size, batch, window, max_lag)
                try:
                    fan.run(0, max(batch, nmsgs // 10), srv.pid)  # warm-up
                    runs = []
                    for r in range(1, rounds + 1):
                        wall, ticks = fan.run(r, nmsgs, srv.pid)
                        deliveries = nmsgs * nsubs
                        runs.append((wall, ticks))
                        say("%-8s round %d: %d deliveries in %.2f s = %.0f/s, server CPU %.2f s"
                            " = %.3f us/delivery"
                            % (name, r, deliveries, wall, deliveries / wall, ticks / hz,
                               ticks * 1e6 / hz / deliveries))
                    results[name] = runs
                finally:
                    fan.close()
            finally:
                srv.stop()
    except KeyboardInterrupt as e:
        die("interrupted (%s)" % e)
    except (RuntimeError, OSError) as e:
        die("run failed: %s" % e)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    deliveries = nmsgs * nsubs

    def summary(name):
        runs = results[name]
        rates = [deliveries / w for w, _ in runs]
        total_ticks = sum(t for _, t in runs)
        us = total_ticks * 1e6 / hz / (deliveries * len(runs))
        pub_rates = [nmsgs / w for w, _ in runs]
        return statistics.median(rates), statistics.median(pub_rates), total_ticks / hz, us

    rs, ss = summary("redis"), summary("shardis")
    lines = [
        "| server | deliveries/s (median) | messages published/s (median) | server CPU s "
        "(all rounds) | server us/delivery |",
        "| --- | ---: | ---: | ---: | ---: |",
        "| redis-server %s | %.0f | %.0f | %.2f | %.3f |" % ((versions.get("redis", "?"),) + rs),
        "| shardis --shards %d | %.0f | %.0f | %.2f | %.3f |" % ((shards,) + ss),
        "| ratio shardis/redis | %.2f | %.2f | | %.2f |"
        % (ss[0] / rs[0], ss[1] / rs[1], ss[3] / rs[3] if rs[3] > 0 else float("nan")),
    ]
    table = "\n".join(lines)
    print("\n" + table + "\n")

    now = datetime.datetime.now().astimezone()
    commit = git("rev-parse", "--short", "HEAD") or "nocommit"
    dirty = ""
    if commit != "nocommit" and git("status", "--porcelain", "--untracked-files=no"):
        dirty = " (work tree has uncommitted changes)"
    os.makedirs(results_dir, exist_ok=True)
    base = os.path.join(results_dir, "%s-%s-pubsub" % (now.strftime("%Y-%m-%d"), commit))
    out = base + ".md"
    i = 2
    while os.path.exists(out):
        out = "%s-%d.md" % (base, i)
        i += 1
    per_round = ["| server | round | deliveries | wall s | deliveries/s | server CPU s | "
                 "us/delivery |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name in ("redis", "shardis"):
        for r, (wall, ticks) in enumerate(results[name], 1):
            per_round.append("| %s | %d | %d | %.2f | %.0f | %.2f | %.3f |"
                             % (name, r, deliveries, wall, deliveries / wall, ticks / hz,
                                ticks * 1e6 / hz / deliveries))
    with open(out, "w") as f:
        f.write("# Pub/sub fan-out: redis-server vs shardis\n\n")
        f.write("- command: `%s`\n" % cmdline)
        f.write("- date: %s\n" % now.strftime("%Y-%m-%d %H:%M:%S %z"))
        f.write("- commit: %s%s\n" % (commit, dirty))
        f.write("- CPU: %s (%d CPUs online)\n" % (lscpu_model(), os.cpu_count() or 0))
        f.write("- kernel: %s\n" % os.uname().release)
        f.write("- load average before the run: %s\n" % " ".join(load_before))
        f.write("- redis-server %s: `%s`\n" % (versions.get("redis", "?"),
                                               " ".join(shlex.quote(a) for a in servers[0][1])))
        f.write("- shardis: `%s`\n" % " ".join(shlex.quote(a) for a in servers[1][1]))
        f.write("- servers pinned to CPU %s, one after the other on %s:%d; load (this script, "
                "one thread) pinned to CPU %s\n" % (server_cpu, HOST, port, client_cpu))
        f.write("- %d subscribers on one channel, 1 publisher; %d messages of %d bytes per "
                "round = %d deliveries; PUBLISH pipelined %d per write, at most %d without a "
                "reply and %d ahead of the slowest subscriber; 1 warm-up round of %d messages, "
                "then %d measured rounds\n"
                % (nsubs, nmsgs, msg_size, deliveries, batch, window, max_lag,
                   max(batch, nmsgs // 10), rounds))
        f.write("\nus/delivery is server CPU time (utime+stime of the server process, all "
                "threads, from /proc/PID/stat, %d ticks per second) divided by the messages "
                "delivered (messages x subscribers). deliveries/s is measured by the client "
                "from the first PUBLISH to the last byte read; with one Python thread reading "
                "%d sockets it may be the client's limit rather than the server's: compare "
                "us/delivery.\n\n" % (hz, nsubs))
        f.write(table + "\n\n## Rounds\n\n" + "\n".join(per_round) + "\n")
    say("written: %s" % out)
    subprocess.call([sys.executable,  # SVG charts beside it (bench/plot.py), status ignored
                     os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "plot.py"), out])
    return 0


if __name__ == "__main__":
    sys.exit(main())
