# Minimal RESP2/RESP3 client helpers and server control for the shardis fuzzer.
import os, socket, subprocess, time, signal


class Err(bytes):
    pass


class Push(list):
    pass


class Closed(Exception):
    pass


def encode(cmd):
    out = [b'*%d\r\n' % len(cmd)]
    for a in cmd:
        if isinstance(a, str):
            a = a.encode('latin-1')
        elif isinstance(a, int):
            a = str(a).encode()
        out.append(b'$%d\r\n%s\r\n' % (len(a), a))
    return b''.join(out)


class Conn:
    def __init__(self, port, timeout=10.0):
        self.s = socket.create_connection(('127.0.0.1', port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0

    def settimeout(self, t):
        self.s.settimeout(t)

    def close(self, rst=False):
        try:
            if rst:
                import struct
                self.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            self.s.close()
        except OSError:
            pass

    def send(self, data):
        self.s.sendall(data)

    def _fill(self):
        if self.pos > 65536 and self.pos > len(self.buf) // 2:
            del self.buf[:self.pos]
            self.pos = 0
        try:
            d = self.s.recv(1 << 20)
        except ConnectionResetError:
            raise Closed('reset')
        if not d:
            raise Closed('closed')
        self.buf += d

    def _line(self):
        while True:
            i = self.buf.find(b'\r\n', self.pos)
            if i >= 0:
                l = bytes(self.buf[self.pos:i])
                self.pos = i + 2
                return l
            self._fill()

    def _n(self, n):
        while len(self.buf) - self.pos < n + 2:
            self._fill()
        d = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n + 2
        return d

    def read(self):
        l = self._line()
        t, r = l[:1], l[1:]
        if t == b'+':
            return r
        if t == b'-':
            return Err(r)
        if t == b':':
            return int(r)
        if t == b'$':
            n = int(r)
            return None if n < 0 else self._n(n)
        if t in (b'*', b'~', b'>'):
            n = int(r)
            if n < 0:
                return None
            v = [self.read() for _ in range(n)]
            return Push(v) if t == b'>' else v
        if t == b'%':
            n = int(r)
            return [(self.read(), self.read()) for _ in range(n)]
        if t == b'|':
            n = int(r)
            for _ in range(n):
                self.read(); self.read()
            return self.read()
        if t == b'_':
            return None
        if t == b',':
            return ('double', r)
        if t == b'#':
            return r == b't'
        if t == b'(':
            return int(r)
        if t in (b'!', b'='):
            n = int(r)
            d = self._n(n)
            return Err(d) if t == b'!' else d
        raise ValueError('bad reply type %r' % l[:80])

    def cmd(self, *args):
        self.send(encode(args))
        while True:
            r = self.read()
            if not isinstance(r, Push):
                return r


def ping_ok(port, timeout=5.0):
    try:
        c = Conn(port, timeout)
        r = c.cmd('PING')
        c.close()
        return r == b'PONG'
    except Exception:
        return False


BAD_PATTERNS = ('AddressSanitizer', 'runtime error', 'Assertion', 'panic', 'PANIC', 'BUG',
                'LeakSanitizer', 'Segmentation', 'SIGSEGV', 'SIGABRT', 'stack-overflow', 'ERROR: ')


def log_problem(path):
    try:
        with open(path, 'r', errors='replace') as f:
            txt = f.read()
    except OSError:
        return None
    for p in BAD_PATTERNS:
        if p in txt:
            return p
    return None


SERVER = os.environ.get('SHARDIS_BIN', os.path.join(
    os.path.dirname(os.path.abspath(__file__)), '..', '..', 'build-asan', 'src', 'shardis-server'))


class Server:
    def __init__(self, port, shards, workdir, extra=()):
        self.port, self.shards, self.workdir = port, shards, workdir
        os.makedirs(workdir, exist_ok=True)
        self.log = os.path.join(workdir, 'server.log')
        env = dict(os.environ)
        env['ASAN_OPTIONS'] = 'halt_on_error=1:detect_leaks=0:abort_on_error=0:handle_abort=1'
        env['UBSAN_OPTIONS'] = 'print_stacktrace=1:halt_on_error=1'
        self.logf = open(self.log, 'ab')
        self.p = subprocess.Popen([SERVER, '--shards', str(shards), '--port', str(port), '--save', '',
                                   '--dir', workdir] + list(extra),
                                  cwd=workdir, env=env, stdout=self.logf, stderr=subprocess.STDOUT)
        t0 = time.time()
        while time.time() - t0 < 20:
            if self.p.poll() is not None:
                break
            if ping_ok(port, 1.0):
                return
            time.sleep(0.05)
        raise RuntimeError('server did not start; see ' + self.log)

    def alive(self):
        return self.p.poll() is None

    def stop(self, grace=3.0):
        if self.p.poll() is None:
            try:
                c = Conn(self.port, 2.0)
                c.send(encode(['SHUTDOWN', 'NOSAVE']))
                c.close()
            except Exception:
                pass
            try:
                self.p.wait(grace)
            except subprocess.TimeoutExpired:
                self.p.send_signal(signal.SIGKILL)
                self.p.wait()
        self.logf.close()
        return self.p.returncode

    def kill(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGKILL)
            self.p.wait()
        try:
            self.logf.close()
        except Exception:
            pass
