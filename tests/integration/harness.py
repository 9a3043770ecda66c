"""Test harness for shardis integration and interop tests.

Starts the server binary on a free loopback port, waits until it answers
PING, stops it with SIGTERM, and offers a small raw RESP2/RESP3 client so
tests can assert exact reply types and error strings and send broken bytes.

Environment:
  SHARDIS_BIN        path of shardis-server
                     (default: <repo>/build/src/shardis-server, found relative
                     to this file, not to the current directory)
  SHARDIS_SHARDS     shard count passed as --shards (default 1)
  SHARDIS_REFERENCE  "redis" runs Redis's own redis-server instead (shards
                     ignored), to validate the tests against the reference.
  SHARDIS_REDIS_BIN  redis-server used in reference mode
                     (default /usr/bin/redis-server)
"""

import atexit
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))

START_TIMEOUT = 10.0
STOP_TIMEOUT = 10.0
REPLY_TIMEOUT = 10.0


def reference_mode():
    return os.environ.get("SHARDIS_REFERENCE", "").lower() == "redis"


def shard_count():
    return int(os.environ.get("SHARDIS_SHARDS", "1"))


def server_binary():
    if reference_mode():
        return os.environ.get("SHARDIS_REDIS_BIN", "/usr/bin/redis-server")
    return os.environ.get(
        "SHARDIS_BIN", os.path.join(REPO_ROOT, "build", "src", "shardis-server"))


def free_port():
    """A loopback port that was free a moment ago. SHARDIS_TEST_PORTS=lo-hi
    (set per ctest test) draws it from a range of its own, below the
    ephemeral ports: suites run side by side (ctest -j) never pick the same
    port, which SO_REUSEPORT would let two servers share. Otherwise the
    kernel picks one (bind to port 0)."""
    lo_hi = os.environ.get("SHARDIS_TEST_PORTS")
    candidates = [0]
    if lo_hi:
        lo, hi = (int(x) for x in lo_hi.split("-"))
        candidates = random.sample(range(lo, hi + 1), min(64, hi - lo + 1))
    for port in candidates:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", port))
            return s.getsockname()[1]
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port in SHARDIS_TEST_PORTS=%s" % lo_hi)


# --------------------------------------------------------------------------
# RESP reply types
# --------------------------------------------------------------------------

class Status(str):
    """A simple string reply (+OK)."""

    def __repr__(self):
        return "Status(%s)" % str.__repr__(self)


class Error(Exception):
    """An error reply (-ERR ... or !<len> blob error). Returned, not raised."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message

    def __eq__(self, other):
        return isinstance(other, Error) and other.message == self.message

    def __hash__(self):
        return hash(self.message)

    def __repr__(self):
        return "Error(%r)" % self.message


class Double(float):
    """A RESP3 double (,3.14)."""


class BigNumber(int):
    """A RESP3 big number ((1234...)."""


class Verbatim(bytes):
    """A RESP3 verbatim string (=15\\r\\ntxt:Some string). .format is 'txt'."""

    def __new__(cls, fmt, data):
        obj = bytes.__new__(cls, data)
        obj.format = fmt
        return obj


class RespSet(list):
    """A RESP3 set (~). Kept as a list: elements may be unhashable."""


class Push(list):
    """A RESP3 push (>)."""


class Map(dict):
    """A RESP2 array turned map by the caller, or a RESP3 map (%)."""


class Attribute(dict):
    """A RESP3 attribute (|), seen only if a server sends one."""


class Incomplete(Exception):
    pass


class ProtocolViolation(Exception):
    """The server sent bytes that are not valid RESP."""


def _hashable(v):
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple((_hashable(k), _hashable(x)) for k, x in v.items())
    return v


def parse_reply(buf, pos=0):
    """Parse one reply from buf at pos. Returns (value, new_pos).

    Raises Incomplete if buf does not hold a whole reply yet.
    """
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise Incomplete()
    if end == pos:
        raise ProtocolViolation("empty line in reply at %d" % pos)
    t = buf[pos:pos + 1]
    line = buf[pos + 1:end]
    nxt = end + 2

    def blob(n, start):
        if len(buf) < start + n + 2:
            raise Incomplete()
        if buf[start + n:start + n + 2] != b"\r\n":
            raise ProtocolViolation("blob not terminated by CRLF")
        return bytes(buf[start:start + n]), start + n + 2

    def aggregate(n, start):
        items = []
        p = start
        for _ in range(n):
            v, p = parse_reply(buf, p)
            items.append(v)
        return items, p

    if t == b"+":
        return Status(line.decode("utf-8", "replace")), nxt
    if t == b"-":
        return Error(line.decode("utf-8", "replace")), nxt
    if t == b":":
        return int(line), nxt
    if t == b"$":
        n = int(line)
        if n == -1:
            return None, nxt
        if n < -1:
            raise ProtocolViolation("bad bulk length %d" % n)
        return blob(n, nxt)
    if t == b"*":
        n = int(line)
        if n == -1:
            return None, nxt
        return aggregate(n, nxt)
    if t == b"_":
        if line:
            raise ProtocolViolation("null with payload")
        return None, nxt
    if t == b"#":
        if line == b"t":
            return True, nxt
        if line == b"f":
            return False, nxt
        raise ProtocolViolation("bad boolean %r" % line)
    if t == b",":
        s = line.decode()
        low = s.lower()
        if low in ("inf", "+inf"):
            return Double(float("inf")), nxt
        if low == "-inf":
            return Double(float("-inf")), nxt
        return Double(float(s)), nxt
    if t == b"(":
        return BigNumber(int(line)), nxt
    if t == b"!":
        data, p = blob(int(line), nxt)
        return Error(data.decode("utf-8", "replace")), p
    if t == b"=":
        data, p = blob(int(line), nxt)
        if len(data) < 4 or data[3:4] != b":":
            raise ProtocolViolation("bad verbatim string %r" % data)
        return Verbatim(data[:3].decode(), data[4:]), p
    if t == b"%" or t == b"|":
        n = int(line)
        flat, p = aggregate(2 * n, nxt)
        m = Map() if t == b"%" else Attribute()
        for i in range(0, len(flat), 2):
            m[_hashable(flat[i])] = flat[i + 1]
        if t == b"|":
            # An attribute precedes the real reply; return the reply.
            return parse_reply(buf, p)
        return m, p
    if t == b"~":
        items, p = aggregate(int(line), nxt)
        return RespSet(items), p
    if t == b">":
        items, p = aggregate(int(line), nxt)
        return Push(items), p
    raise ProtocolViolation("unknown reply type %r at %d" % (t, pos))


def encode_command(*args):
    """RESP2 multibulk encoding of a command."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, bytes):
            b = a
        elif isinstance(a, str):
            b = a.encode()
        elif isinstance(a, (int, float)):
            b = str(a).encode()
        else:
            raise TypeError("bad argument type %r" % type(a))
        out.append(b"$%d\r\n" % len(b))
        out.append(b)
        out.append(b"\r\n")
    return b"".join(out)


class ConnectionClosed(Exception):
    pass


class Client:
    """A raw RESP client: one socket, exact bytes, one reply at a time."""

    def __init__(self, port, host="127.0.0.1", timeout=REPLY_TIMEOUT):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = bytearray()
        self.last_raw = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def send_command(self, *args):
        self.send(encode_command(*args))

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("no complete reply within %.1f s" % self.timeout)
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(1 << 16)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise ConnectionClosed("connection closed by server; pending=%r"
                                   % bytes(self.buf[:200]))
        self.buf += chunk

    def read_reply(self):
        """Read and return exactly one reply."""
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                value, pos = parse_reply(self.buf, 0)
            except Incomplete:
                self._fill(deadline)
                continue
            self.last_raw = bytes(self.buf[:pos])
            del self.buf[:pos]
            return value

    def read_raw_reply(self):
        """Read one reply and return its exact bytes."""
        self.read_reply()
        return self.last_raw

    def read_replies(self, n):
        return [self.read_reply() for _ in range(n)]

    def cmd(self, *args):
        self.send_command(*args)
        return self.read_reply()

    def raw(self, *args):
        """Send a command, return the exact bytes of its reply."""
        self.send_command(*args)
        return self.read_raw_reply()

    def is_closed(self, timeout=2.0):
        """True if the server closes the connection (EOF/RST) within timeout.

        Any bytes still pending are discarded.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(1 << 16)
            except socket.timeout:
                return False
            except (ConnectionResetError, BrokenPipeError):
                return True
            if not chunk:
                return True
            self.buf += chunk
        return False


def collect_messages(sub, n, quiet=0.15, timeout=5.0):
    """Pub/sub messages on client sub: n of them (waiting up to `timeout`
    seconds), then any more that come within `quiet` seconds, as (channel,
    payload) strings in arrival order. A frame that is not a message or
    pmessage raises ProtocolViolation."""
    out = []
    deadline = time.monotonic() + timeout
    old = sub.timeout
    try:
        while True:
            if len(out) >= n:
                sub.timeout = quiet
            else:
                sub.timeout = max(0.01, deadline - time.monotonic())
            try:
                m = sub.read_reply()
            except socket.timeout:
                break
            if m[0] == b"pmessage":
                out.append((m[2].decode(), m[3].decode()))
            elif m[0] == b"message":
                out.append((m[1].decode(), m[2].decode()))
            else:
                raise ProtocolViolation("unexpected frame %r" % (m,))
    finally:
        sub.timeout = old
    return out


# --------------------------------------------------------------------------
# Server process
# --------------------------------------------------------------------------

def rss_bytes(pid):
    """Resident memory of a process, from /proc."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer", "ERROR: ThreadSanitizer")


def live_redis_binary():
    """redis-server for tests that exchange values with a live one."""
    return os.environ.get("SHARDIS_REDIS_BIN", "/usr/bin/redis-server")


def check_clean_exit(srv, rc):
    """None when the server exited 0 with no sanitizer report, else why not."""
    log = srv.log_text()
    for marker in SANITIZER_MARKERS:
        if marker in log:
            return "sanitizer report in the server log (%s)" % marker
    if rc not in (0, None):
        return "server exited with status %s" % rc
    return None


class Server:
    """One server process on a free loopback port."""

    def __init__(self, shards=None, args=(), config_file=None):
        self.shards = shard_count() if shards is None else shards
        self.extra_args = list(args)
        self.config_file = config_file
        self.proc = None
        self.port = None
        self.log = None
        self.returncode = None
        # the server's working directory (its dump.rdb lands there): one of
        # its own, so that servers never load each other's files
        self.dir = None

    def command_line(self, port):
        binary = server_binary()
        argv = [binary]
        if self.config_file:
            argv.append(self.config_file)
        argv += ["--bind", "127.0.0.1", "--port", str(port)]
        if reference_mode():
            # DEBUG is disabled by default in Redis 7; shardis allows it.
            argv += ["--save", "", "--appendonly", "no",
                     "--enable-debug-command", "local"]
        else:
            # no save points unless a test asks (Redis's built-in ones would
            # save at every stop)
            argv += ["--shards", str(self.shards), "--save", ""]
        argv += self.extra_args
        return argv

    def start(self):
        binary = self.command_line(0)[0]
        if not os.access(binary, os.X_OK):
            raise RuntimeError(
                "server binary %r not found or not executable "
                "(set SHARDIS_BIN, or SHARDIS_REFERENCE=redis)" % binary)
        last_error = None
        if self.dir is None:
            self.dir = tempfile.mkdtemp(prefix="shardis-dir-")
            atexit.register(shutil.rmtree, self.dir, True)
        for _attempt in range(3):
            port = free_port()
            self.log = tempfile.NamedTemporaryFile(
                prefix="shardis-test-", suffix=".log", delete=False)
            self.proc = subprocess.Popen(
                self.command_line(port), stdin=subprocess.DEVNULL,
                stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)
            self.port = port
            self.returncode = None
            try:
                self._wait_ready()
                return self
            except Exception as e:  # port race or start failure: retry
                last_error = e
                self._force_stop()
                sys.stderr.write(self.log_text())
        raise RuntimeError("server did not start: %s\n%s" % (last_error, self.log_text()))

    def _wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited with %s during start"
                                   % self.proc.returncode)
            try:
                with Client(self.port, timeout=1.0) as c:
                    reply = c.cmd("PING")
                    if reply == "PONG":
                        return
                    if isinstance(reply, Error) and reply.message.startswith("NOAUTH"):
                        return  # started with requirepass
            except (OSError, ConnectionClosed, ProtocolViolation):
                pass
            time.sleep(0.02)
        raise RuntimeError("server did not answer PING within %.0f s" % START_TIMEOUT)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def client(self, timeout=REPLY_TIMEOUT):
        return Client(self.port, timeout=timeout)

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Wait for the process to exit; returns its status or None."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self):
        """SIGTERM our own process and wait. Returns the exit status."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if self.wait_exit(STOP_TIMEOUT) is None:
                self._force_stop()
                raise RuntimeError("server did not exit within %.0f s of SIGTERM"
                                   % STOP_TIMEOUT)
        self.returncode = self.proc.returncode
        return self.returncode

    def _force_stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None:
            self.returncode = self.proc.returncode

    def log_text(self):
        if self.log is None:
            return ""
        try:
            with open(self.log.name, "rb") as f:
                data = f.read()
        except OSError:
            return ""
        return data.decode("utf-8", "replace")

    def cleanup(self):
        if self.log is not None:
            try:
                self.log.close()
                os.unlink(self.log.name)
            except OSError:
                pass


# --------------------------------------------------------------------------
# Test case base
# --------------------------------------------------------------------------

class LiveRedisServer(Server):
    """A real redis-server, whatever SHARDIS_REFERENCE says: for tests that
    move values (DUMP payloads, HLL and bitmap strings, geo scores) between
    it and the server under test. Start it with .start(); .stop() and
    .cleanup() when done."""

    def command_line(self, port):
        return [live_redis_binary(), "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                "--appendonly", "no"]


class ServerTestCase(unittest.TestCase):
    """One server per test class; FLUSHALL before each test.

    Subclasses may set server_args (extra command line), or
    fresh_server_per_test = True to get a server per test.
    """

    server_args = ()
    shards = None  # None: SHARDIS_SHARDS
    fresh_server_per_test = False
    server = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._failed = False
        if not cls.fresh_server_per_test:
            cls.server = Server(shards=cls.shards, args=cls.server_args).start()

    @classmethod
    def tearDownClass(cls):
        srv = cls.server
        cls.server = None
        if srv is not None:
            try:
                rc = srv.stop()
                bad = check_clean_exit(srv, rc)
                if bad:
                    cls._failed = True
                    raise AssertionError(bad)
            finally:
                if cls._failed:
                    _dump_log(cls.__name__, srv)
                srv.cleanup()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self._clients = []
        if self.fresh_server_per_test:
            self.server = Server(shards=self.shards, args=self.server_args).start()
        self.port = self.server.port
        self.r = self.client()
        self.r.cmd("FLUSHALL")

    def tearDown(self):
        for c in self._clients:
            c.close()
        srv = self.server
        crashed = not srv.alive() and not getattr(self, "expect_exit", False)
        unclean = None
        if self.fresh_server_per_test:
            try:
                rc = srv.stop() if srv.alive() else srv.proc.returncode
                unclean = check_clean_exit(srv, rc)
            finally:
                if crashed or unclean or self._test_failed():
                    _dump_log(self.id(), srv)
                srv.cleanup()
        if unclean and not crashed:
            self.fail("%s after %s" % (unclean, self.id()))
        if crashed:
            self.fail("server process died (status %s) during %s"
                      % (srv.proc.returncode, self.id()))
        super().tearDown()

    def _test_failed(self):
        outcome = getattr(self, "_outcome", None)
        if outcome is None:
            return False
        if hasattr(outcome, "success"):
            return not outcome.success
        return False

    def run(self, result=None):
        before = 0
        if result is not None:
            before = len(result.failures) + len(result.errors)
        out = super().run(result)
        if result is not None and len(result.failures) + len(result.errors) > before:
            type(self)._failed = True
        return out

    # ---- helpers -----------------------------------------------------

    def client(self, timeout=REPLY_TIMEOUT):
        c = Client(self.port, timeout=timeout)
        self._clients.append(c)
        return c

    def assertOK(self, reply):
        self.assertIsInstance(reply, Status, "expected +OK, got %r" % (reply,))
        self.assertEqual(reply, "OK")

    def assertError(self, reply, message):
        """Exact error text (without the leading '-')."""
        self.assertIsInstance(reply, Error, "expected error %r, got %r" % (message, reply))
        self.assertEqual(reply.message, message)

    def assertErrorPrefix(self, reply, prefix):
        self.assertIsInstance(reply, Error, "expected error %r..., got %r" % (prefix, reply))
        self.assertTrue(reply.message.startswith(prefix),
                        "error %r does not start with %r" % (reply.message, prefix))

    def assertIsError(self, reply):
        self.assertIsInstance(reply, Error, "expected an error, got %r" % (reply,))

    def wait_until(self, predicate, timeout=2.0, interval=0.01, msg=None):
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return
            if time.monotonic() >= deadline:
                self.fail(msg or "condition not met within %.1f s" % timeout)
            time.sleep(interval)


def _dump_log(name, srv):
    text = srv.log_text()
    sys.stderr.write("\n----- server log for %s (port %s, exit %s) -----\n%s"
                     "----- end of server log -----\n"
                     % (name, srv.port, srv.returncode, text[-20000:]))


def pairs_to_map(flat):
    """RESP2 flat [k1, v1, k2, v2] -> dict."""
    return {flat[i]: flat[i + 1] for i in range(0, len(flat), 2)}


class LiveRedisTestCase(ServerTestCase):
    """A ServerTestCase with a live redis-server beside it, for tests that
    move values between the two: cls.redis (a live_server_class, started once
    per class) and self.ref (a client of it, FLUSHALLed before each test).
    Skipped in reference mode and when the redis-server binary is missing."""

    live_server_class = LiveRedisServer

    @classmethod
    def setUpClass(cls):
        if reference_mode():
            raise unittest.SkipTest("the server under test is redis-server")
        if not os.access(live_redis_binary(), os.X_OK):
            raise unittest.SkipTest("%s not found" % live_redis_binary())
        super().setUpClass()
        cls.redis = cls.live_server_class().start()

    @classmethod
    def tearDownClass(cls):
        cls.redis.stop()
        cls.redis.cleanup()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.ref = Client(self.redis.port)
        self.ref.cmd("FLUSHALL")

    def tearDown(self):
        self.ref.close()
        super().tearDown()
