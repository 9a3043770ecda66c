#!/usr/bin/python3
"""Randomized command stress for shardis over TCP (several shards, ASan/UBSan binary).

  fuzz_server.py run --minutes 40 [--seed S] [--shards 4] [--workers 6]
  fuzz_server.py replay RUNDIR [--shards N] [--last N]       # sequential replay of a run's logs

Each run (one seed) lives in $FZ_DIR/runs/seed_<S>/ (FZ_DIR: /tmp/shardis-fuzz): server.log, conn_<i>.log (one JSON line per batch:
time, commands, whether the socket was dropped right after sending), finding.txt when something broke.
"""
import argparse, json, os, random, socket, sys, threading, time, traceback, subprocess, shutil
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resp import Conn, Closed, Err, Push, encode, ping_ok, log_problem, Server
import gen as G

FZ_DIR = os.environ.get('FZ_DIR', '/tmp/shardis-fuzz')
RUNS = os.path.join(FZ_DIR, 'runs')


def free_port():
    for _ in range(200):
        p = random.randint(7900, 7999)
        s = socket.socket()
        try:
            s.bind(('127.0.0.1', p))
            s.close()
            return p
        except OSError:
            s.close()
    raise RuntimeError('no free port')


def alive_check(port, timeout=5.0):
    """PING and DBSIZE (which asks every shard) on a fresh connection within timeout."""
    try:
        c = Conn(port, timeout)
        c.send(encode(['PING']) + encode(['DBSIZE']) + encode(['MGET'] + G.KEYS))
        r1 = c.read(); r2 = c.read(); r3 = c.read()
        c.close()
        return r1 == b'PONG' and isinstance(r2, int)
    except Exception:
        return False


class Run:
    def __init__(self, seed, shards, workers, port, rundir, batch_max):
        self.seed, self.shards, self.nworkers, self.port, self.dir = seed, shards, workers, port, rundir
        self.batch_max = batch_max
        self.stop = threading.Event()
        self.finding = None
        self.lock = threading.Lock()
        self.sent = 0
        self.anomalies = open(os.path.join(rundir, 'anomalies.log'), 'a')
        self.shared = {'specs': SPECS, 'port': port, 'payloads': [], 'shas': [], 'client_ids': [],
                       'stream_ids': [], 'funcs': ['f1']}

    def note(self, msg):
        with self.lock:
            self.anomalies.write('%.3f %s\n' % (time.time(), msg))
            self.anomalies.flush()

    def set_finding(self, kind, detail):
        with self.lock:
            if self.finding is None:
                self.finding = (kind, detail)
        self.stop.set()

    # ---------- worker ----------
    def worker(self, wid):
        rnd = random.Random('%d-%d' % (self.seed, wid))
        g = G.Gen(rnd, self.shared)
        logf = open(os.path.join(self.dir, 'conn_%d.log' % wid), 'a')
        conn = None
        seq = 0
        while not self.stop.is_set():
            try:
                if conn is None:
                    conn = Conn(self.port, 15.0)
                    conn_gen = seq
                n = rnd.choice([1, 2, 5, 10, 20, 30]) if rnd.random() < 0.9 else rnd.randint(50, self.batch_max)
                batch = g.batch(n)
                heads = {c[0].upper() for c in batch}
                tail = []
                if 'MULTI' in heads:
                    tail.append(['DISCARD'])
                if any(c[0].upper() == 'CLIENT' and len(c) > 1 and c[1].upper() == 'REPLY' for c in batch):
                    # RESET does not undo CLIENT REPLY OFF in shardis (it does in Redis 7.0): turn it on first
                    tail.append(['CLIENT', 'REPLY', 'ON'])
                    tail.append(['RESET'])
                    tail.append(['CLIENT', 'REPLY', 'ON'])
                elif heads & {'SUBSCRIBE', 'PSUBSCRIBE', 'SSUBSCRIBE', 'AUTH', 'HELLO'}:
                    tail.append(['RESET'])
                seq += 1
                token = 'fz-%d-%d' % (wid, seq)
                tail.append(['ECHO', token])
                drop = rnd.random() < 0.02
                rec = {'t': time.time(), 'w': wid, 'seq': seq, 'cmds': batch + tail, 'drop': drop,
                       'new_conn': conn_gen == seq - 1}
                logf.write(json.dumps(rec) + '\n')
                logf.flush()
                data = b''.join(encode(c) for c in batch + tail)
                conn.send(data)
                with self.lock:
                    self.sent += len(batch)
                if drop:
                    conn.close(rst=rnd.random() < 0.5)
                    conn = None
                    continue
                replies = self.read_until(conn, token, wid, seq)
                if replies is None:
                    conn.close()
                    conn = None
                    continue
                self.capture(batch + tail, replies)
            except (Closed, ConnectionRefusedError, ConnectionResetError, BrokenPipeError) as e:
                if self.stop.is_set():
                    break
                if not self.server.alive():
                    self.set_finding('crash', 'server died (worker %d saw %r)' % (wid, e))
                    break
                self.note('worker %d seq %d: connection lost (%r)' % (wid, seq, e))
                conn = None
                if not isinstance(e, Closed):
                    time.sleep(0.05)
            except socket.timeout:
                conn = None
            except Exception as e:
                if self.stop.is_set():
                    break
                self.note('worker %d seq %d: python error %s' % (wid, seq, traceback.format_exc()))
                try:
                    conn.close()
                except Exception:
                    pass
                conn = None
        logf.close()

    def read_until(self, conn, token, wid, seq):
        tb = token.encode()
        replies = []
        conn.settimeout(15.0)
        try:
            while True:
                r = conn.read()
                if isinstance(r, Push):
                    continue
                if r == tb:
                    return replies
                replies.append(r)
        except socket.timeout:
            pass
        if self.stop.is_set():
            return None
        # no answer: is the whole server stuck?
        if not alive_check(self.port, 5.0):
            if self.server.alive():
                self.set_finding('hang', 'server does not answer PING/DBSIZE in 5 s (worker %d seq %d stuck)' % (wid, seq))
            else:
                self.set_finding('crash', 'server died (worker %d seq %d)' % (wid, seq))
            return None
        # the server is alive: try RESET on this connection
        try:
            conn.send(encode(['RESET']) + encode(['ECHO', token + 'r']))
            conn.settimeout(5.0)
            while True:
                r = conn.read()
                if r == (token + 'r').encode():
                    self.note('worker %d seq %d: batch answered only after RESET (%d replies before)' %
                              (wid, seq, len(replies)))
                    return None
        except Exception:
            pass
        self.note('worker %d seq %d: connection stuck (no reply in 20 s) while server answers others; %d replies got'
                  % (wid, seq, len(replies)))
        with self.lock:
            self.stuck = getattr(self, 'stuck', 0) + 1
        return None

    def capture(self, cmds, replies):
        if len(cmds) != len(replies):
            return
        sh = self.shared
        for c, r in zip(cmds, replies):
            h = c[0].upper()
            if h == 'DUMP' and isinstance(r, bytes) and not isinstance(r, Err):
                if len(sh['payloads']) < 300:
                    sh['payloads'].append(r.decode('latin-1'))
                else:
                    sh['payloads'][random.randrange(300)] = r.decode('latin-1')
            elif h == 'CLIENT' and len(c) > 1 and c[1].upper() == 'ID' and isinstance(r, int):
                if len(sh['client_ids']) < 50:
                    sh['client_ids'].append(r)
            elif h == 'XADD' and isinstance(r, bytes) and not isinstance(r, Err):
                if len(sh['stream_ids']) < 200:
                    sh['stream_ids'].append(r.decode())
            elif h == 'FUNCTION' and len(c) > 1 and c[1].upper() == 'DUMP' and isinstance(r, bytes) \
                    and not isinstance(r, Err):
                sh['fdump'] = r.decode('latin-1')

    # ---------- raw protocol garbage ----------
    def garbage(self):
        rnd = random.Random('%d-garbage' % self.seed)
        logf = open(os.path.join(self.dir, 'garbage.log'), 'a')
        pieces = [b'*-1\r\n', b'*0\r\n', b'*3\r\n$3\r\nSET\r\n$1\r\na\r\n', b'*2147483648\r\n',
                  b'*99999999999999999999\r\n', b'$-5\r\n', b'*1\r\n$999999999999\r\n', b'*1\r\n$536870913\r\n',
                  b'*1\r\n$536870911\r\nabc', b'*1\r\n$100000\r\n' + b'x' * 5000, b'PING\r\n', b'SET a "unterminated\r\n',
                  b'\x00\xff\r\n', b'x' * 70000, b'*1\r\nfoo\r\n', b'*1\r\n$3\r\nfooXX', b'\r\n\r\n',
                  b'set "a\\x41" "b\\"c" \'d\'\r\n', b'GET / HTTP/1.1\r\nHost: x\r\n\r\n', b'POST / HTTP/1.1\r\n',
                  b'*3\r\n$3\r\nset\r\n$1\r\na\r\n$1\r\nb\r\n' * 300, b'*1\r\n$4\r\nPING\r\n' * 1000,
                  b'*2\r\n$4\r\nECHO\r\n$-1\r\n', b'*1\r\n*1\r\n$4\r\nPING\r\n', b'*1\r\n:1\r\n', b'*1\r\n$0\r\n\r\n',
                  b'*2\r\n$3\r\nGET\r\n$0\r\n\r\n', b'*1\r\n$+3\r\nGET\r\n', b'*1\r\n$03\r\nGET\r\n', b'*1 \r\n',
                  b'*1\r\n$3 \r\nGET\r\n', b'*-2\r\n', b'*1\r', b'\n', b'inline with    spaces\r\n',
                  b'"unbalanced\r\n', b'\'x\'y\r\n', b'*1048577\r\n', b'*1\r\n$2147483648\r\n',
                  b'*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n', b'*4\r\n$6\r\nCLIENT\r\n$8\r\nTRACKING\r\n$2\r\non\r\n$5\r\nBCAST\r\n',
                  b'*3\r\n$5\r\nBLPOP\r\n$1\r\na\r\n$3\r\n0.5\r\n', b'*3\r\n$8\r\nSUBSCRIBE\r\n$1\r\na\r\n$1\r\nb\r\n',
                  b'*4\r\n$4\r\nEVAL\r\n$26\r\nreturn redis.call("get",KEYS[1])\r\n$1\r\n1\r\n$1\r\nb\r\n',
                  b'*3\r\n$4\r\nMGET\r\n$1\r\na\r\n$3\r\n{b}\r\n', b'MULTI\r\nSET a b\r\n', b'*1\r\n$5\r\nMULTI\r\n',
                  b'*4\r\n$4\r\nSORT\r\n$1\r\na\r\n$5\r\nSTORE\r\n$1\r\nb\r\n']
        while not self.stop.is_set():
            data = b''.join(rnd.choice(pieces) for _ in range(rnd.randint(1, 6)))
            if rnd.random() < 0.2:
                data += bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 200)))
            if rnd.random() < 0.3 and len(data) > 3:
                data = data[:rnd.randrange(1, len(data))]
            logf.write(json.dumps({'t': time.time(), 'data': data.decode('latin-1')}) + '\n')
            logf.flush()
            try:
                s = socket.create_connection(('127.0.0.1', self.port), timeout=2)
                s.sendall(data)
                if rnd.random() < 0.5:
                    try:
                        s.settimeout(0.2)
                        s.recv(1 << 16)
                    except Exception:
                        pass
                if rnd.random() < 0.5:
                    import struct
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
                s.close()
            except Exception:
                pass
            time.sleep(rnd.random() * 0.2)
        logf.close()

    def dump_stacks(self):
        try:
            out = subprocess.run(['gdb', '-p', str(self.server.p.pid), '-batch', '-ex', 'thread apply all bt'],
                                 capture_output=True, text=True, timeout=60)
            with open(os.path.join(self.dir, 'hang_stacks.txt'), 'w') as f:
                f.write(out.stdout + out.stderr)
        except Exception as e:
            with open(os.path.join(self.dir, 'hang_stacks.txt'), 'w') as f:
                f.write('gdb failed: %r' % e)

    def go(self, seconds):
        self.server = Server(self.port, self.shards, self.dir)
        self.pid = self.server.p.pid
        print('[seed %d] server pid %d port %d shards %d dir %s' % (self.seed, self.pid, self.port, self.shards,
                                                                     self.dir), flush=True)
        ths = [threading.Thread(target=self.worker, args=(i,), daemon=True) for i in range(self.nworkers)]
        ths.append(threading.Thread(target=self.garbage, daemon=True))
        for t in ths:
            t.start()
        t0 = time.time()
        last = t0
        while time.time() - t0 < seconds and not self.stop.is_set():
            time.sleep(1.0)
            if not self.server.alive():
                self.set_finding('crash', 'server exited rc=%s' % self.server.p.returncode)
                break
            p = log_problem(self.server.log)
            if p:
                self.set_finding('log', 'server log matches %r' % p)
                break
            if time.time() - last >= 3:
                last = time.time()
                if not alive_check(self.port, 5.0):
                    time.sleep(0.5)
                    if not alive_check(self.port, 5.0):
                        if self.server.alive():
                            self.set_finding('hang', 'checker: no PING/DBSIZE answer in 5 s')
                        else:
                            self.set_finding('crash', 'server exited rc=%s' % self.server.p.returncode)
                        break
        self.stop.set()
        if self.finding and self.finding[0] == 'hang' and self.server.alive():
            self.dump_stacks()
        time.sleep(0.5)
        if self.finding and self.finding[0] == 'hang':
            self.server.kill()
        else:
            rc = self.server.stop()
            time.sleep(0.2)
            p = log_problem(self.server.log)
            if p and not self.finding:
                self.finding = ('log', 'server log matches %r (at shutdown, rc=%s)' % (p, rc))
        for t in ths:
            t.join(20)
        res = {'seed': self.seed, 'shards': self.shards, 'seconds': round(time.time() - t0, 1), 'sent': self.sent,
               'finding': self.finding, 'stuck': getattr(self, 'stuck', 0)}
        with open(os.path.join(self.dir, 'result.json'), 'w') as f:
            json.dump(res, f)
        if self.finding:
            with open(os.path.join(self.dir, 'finding.txt'), 'w') as f:
                f.write('%s: %s\n' % self.finding)
        print('[seed %d] done: %s' % (self.seed, json.dumps(res)), flush=True)
        return res


SPECS = None


def cmd_run(a):
    global SPECS
    SPECS = G.load_specs()
    os.makedirs(RUNS, exist_ok=True)
    end = time.time() + a.minutes * 60
    seed = a.seed if a.seed is not None else int(time.time()) % 100000
    total = 0
    results = []
    while time.time() < end:
        rundir = os.path.join(RUNS, 'seed_%d' % seed)
        if os.path.exists(rundir):
            shutil.rmtree(rundir)
        os.makedirs(rundir)
        secs = min(a.run_seconds, end - time.time())
        if secs < 10:
            break
        r = Run(seed, a.shards, a.workers, free_port(), rundir, a.batch_max).go(secs)
        results.append(r)
        total += r['sent']
        seed += 1
    print('TOTAL commands sent: %d over %d runs' % (total, len(results)))
    for r in results:
        print(json.dumps(r))


# ---------------- replay ----------------
def load_batches(rundir):
    recs = []
    for fn in sorted(os.listdir(rundir)):
        if fn.startswith('conn_') and fn.endswith('.log'):
            for line in open(os.path.join(rundir, fn)):
                try:
                    recs.append(json.loads(line))
                except ValueError:
                    pass
    recs.sort(key=lambda r: r['t'])
    return recs


def replay(batches, shards, workdir, wait=5.0, verbose=False):
    """Replay batches sequentially on a fresh server. Returns (bad, why)."""
    if os.path.exists(workdir):
        shutil.rmtree(workdir)
    os.makedirs(workdir)
    port = free_port()
    srv = Server(port, shards, workdir)
    conns = {}
    why = None
    try:
        for b in batches:
            w = b['w']
            if b.get('new_conn') and w in conns:
                conns.pop(w).close()
            if w not in conns:
                conns[w] = Conn(port, wait)
            c = conns[w]
            cmds = b['cmds']
            try:
                c.send(b''.join(encode(x) for x in cmds))
            except OSError:
                conns.pop(w).close()
                if not srv.alive():
                    why = 'crash'
                    break
                continue
            if b.get('drop'):
                conns.pop(w).close()
                continue
            last = cmds[-1]
            tok = last[1].encode() if last[0] == 'ECHO' else None
            try:
                c.settimeout(wait)
                while True:
                    r = c.read()
                    if tok is None or r == tok:
                        break
            except (socket.timeout, Closed, OSError):
                conns.pop(w).close()
                if not srv.alive():
                    why = 'crash'
                    break
                if not alive_check(port, 5.0):
                    why = 'hang'
                    break
            if not srv.alive():
                why = 'crash'
                break
        time.sleep(0.3)
        if why is None:
            if not srv.alive():
                why = 'crash'
            elif not alive_check(port, 5.0):
                why = 'hang'
    finally:
        for c in conns.values():
            c.close()
        if why == 'hang':
            srv.kill()
        else:
            srv.stop()
    p = log_problem(srv.log)
    if p:
        why = (why or '') + ' log:' + p
    return why, srv.log


def cmd_replay(a):
    recs = load_batches(a.rundir)
    if a.last:
        recs = recs[-a.last:]
    why, log = replay(recs, a.shards, os.path.join(FZ_DIR, 'replay_work'))
    print('replayed %d batches: %s (log %s)' % (len(recs), why, log))
    sys.exit(1 if why else 0)


def main():
    ap = argparse.ArgumentParser()
    sp = ap.add_subparsers(dest='cmd')
    r = sp.add_parser('run')
    r.add_argument('--minutes', type=float, default=40)
    r.add_argument('--run-seconds', type=float, default=300)
    r.add_argument('--seed', type=int)
    r.add_argument('--shards', type=int, default=4)
    r.add_argument('--workers', type=int, default=6)
    r.add_argument('--batch-max', type=int, default=300)
    p = sp.add_parser('replay')
    p.add_argument('rundir')
    p.add_argument('--shards', type=int, default=4)
    p.add_argument('--last', type=int, default=0)
    a = ap.parse_args()
    if a.cmd == 'replay':
        cmd_replay(a)
    else:
        if a.cmd is None:
            a = ap.parse_args(['run'] + sys.argv[1:])
        cmd_run(a)


if __name__ == '__main__':
    main()
