# Command generator for the shardis fuzzer, driven by Redis 7.0's command JSON specs.
import glob, json, os, random, struct, hashlib

SPEC_DIR = os.environ.get('SHARDIS_SPEC_DIR', os.path.join(
    os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'shared', 'redis-commands'))

KEYS = ['a', 'b', 'c', 'd', 'e', 'k1', 'k2', 'k3', 'foo', 'bar', '{a}x', '{a}y', '{a}z', '{b}1', '{b}2',
        'w_1', 'w_2', 'h1', 'x', 'longkey' + 'z' * 40]
MEMBERS = ['m1', 'm2', 'm3', 'a', 'b', '1', '2', '3', '-1', '10', '3.5', '0', '',
           'x' * 70, 'y' * 130, '\x00\xff\x01', '9223372036854775807', '-9223372036854775808', 'nan']
GROUPS = ['g1', 'g2', 'g3']
CONSUMERS = ['c1', 'c2', 'c3']
CHANNELS = ['ch1', 'ch2', '{a}ch', '__redis__:invalidate', 'a']

# Commands we never send (they stop or hang the test or change how it connects).
SKIP = {
    'SHUTDOWN', 'MONITOR', 'SYNC', 'PSYNC', 'REPLICAOF', 'SLAVEOF', 'FAILOVER', 'DEBUG', 'QUIT',
    'MULTI', 'EXEC', 'DISCARD', 'WATCH', 'UNWATCH', 'CONFIG SET', 'CLIENT PAUSE', 'CLIENT KILL',
    'REPLCONF', 'MODULE LOAD', 'MODULE LOADEX', 'MODULE UNLOAD', 'ACL LOAD', 'ACL SETUSER', 'ACL DELUSER',
    'ACL SAVE', 'CONFIG REWRITE', 'SAVE', 'BGSAVE', 'BGREWRITEAOF', 'FLUSHALL', 'FLUSHDB', 'SWAPDB',
    'EVAL', 'EVALSHA', 'EVAL_RO', 'EVALSHA_RO', 'FCALL', 'FCALL_RO', 'FUNCTION LOAD', 'SCRIPT DEBUG',
    'AUTH', 'HELLO', 'RESET', 'CLIENT REPLY', 'CLIENT NO-EVICT', 'CLIENT TRACKING', 'SUBSCRIBE',
    'PSUBSCRIBE', 'SSUBSCRIBE', 'MIGRATE', 'WAIT', 'SELECT', 'RESTORE', 'RESTORE-ASKING', 'FUNCTION RESTORE',
    'CLIENT UNBLOCK',
}
GROUP_WEIGHT = {'string': 10, 'list': 10, 'set': 10, 'sorted_set': 10, 'hash': 10, 'stream': 8,
                'bitmap': 5, 'hyperloglog': 4, 'geo': 5, 'generic': 10, 'transactions': 0, 'scripting': 1,
                'connection': 1, 'server': 1.5, 'pubsub': 1.5, 'cluster': 0.2, 'sentinel': 0.1}
BLOCKING = {'BLPOP', 'BRPOP', 'BLMOVE', 'BRPOPLPUSH', 'BLMPOP', 'BZPOPMIN', 'BZPOPMAX', 'BZMPOP'}
SUB = {'SUBSCRIBE', 'PSUBSCRIBE', 'SSUBSCRIBE'}
# Bugs already found: the generator stops producing them so that the fuzz goes on to new ones.
KNOWN_BUGS = set(os.environ.get('FZ_AVOID', '').split(',')) - {''}


def avoid_known(c):
    # returns a command that does not hit an already-known bug
    h = c[0].upper()
    if '4' in KNOWN_BUGS and h in ('SORT', 'SORT_RO'):
        # every SORT mode trips over empty elements (findings 4, 4b, 6): leave SORT out
        return ['TYPE'] + c[1:2]
    if '5' in KNOWN_BUGS and h in ('LPUSH', 'RPUSH', 'LPUSHX', 'RPUSHX', 'LINSERT', 'LSET'):
        c = c[:2] + [('E' if x == '' else x) for x in c[2:]]
    if '5' in KNOWN_BUGS and h in ('BLMOVE', 'BRPOPLPUSH') and len(c) >= 3:
        # keep source and destination on one shard (same hash tag)
        c = c[:1] + ['{a}x', '{a}y'] + c[3:]
    if '8' in KNOWN_BUGS and h in ('EXPIRE', 'PEXPIRE', 'EXPIREAT', 'PEXPIREAT', 'SET', 'GETEX', 'SETEX', 'PSETEX',
                                   'RESTORE'):
        def small(x):
            try:
                return '1000000' if abs(int(x)) > 10 ** 13 else x
            except ValueError:
                return x
        c = c[:2] + [small(x) for x in c[2:]]
    if '6' in KNOWN_BUGS and h in ('SORT', 'SORT_RO'):
        # patterns that can turn an empty element into an empty key
        c = [(('p' + x) if (x == '' or x.startswith('*')) and i > 1 and c[i - 1].upper() in ('GET', 'BY') else x)
             for i, x in enumerate(c)]
    return c


def known_bug_in_multi(c):
    h = c[0].upper()
    if '1' in KNOWN_BUGS and h in ('SUBSCRIBE', 'PSUBSCRIBE', 'SSUBSCRIBE', 'UNSUBSCRIBE', 'PUNSUBSCRIBE',
                                   'SUNSUBSCRIBE'):
        return True
    return False


def load_specs():
    specs = {}
    for f in sorted(glob.glob(os.path.join(SPEC_DIR, '*.json'))):
        d = json.load(open(f))
        for name, v in d.items():
            full = (v['container'] + ' ' + name) if 'container' in v else name
            specs[full.upper()] = v
    # drop containers that have subcommands (keep them rarely as bare calls via misc)
    conts = {k.split(' ')[0] for k in specs if ' ' in k}
    return {k: v for k, v in specs.items() if k not in conts}


def crc64(data, crc=0):
    # Redis's CRC-64 Jones, reflected.
    global _CRC_T
    try:
        t = _CRC_T
    except NameError:
        t = []
        poly = 0x95ac9329ac4bc9b5  # reflected 0xad93d23594c935a9
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ poly if c & 1 else c >> 1
            t.append(c)
        _CRC_T = t
    for b in data:
        crc = t[(crc ^ b) & 0xff] ^ (crc >> 8)
    return crc


assert crc64(b'123456789') == 0xe9c6d914c4b8d9ca


class Gen:
    def __init__(self, rnd, shared):
        self.r = rnd
        self.sh = shared  # dict shared across threads: payloads, shas, client ids, stream ids, funcs
        self.specs = shared['specs']
        names = sorted(self.specs)
        self.names = [n for n in names if n not in SKIP]
        self.weights = [GROUP_WEIGHT.get(self.specs[n].get('group'), 1) for n in self.names]
        self.data_names = [n for n in self.names if self.specs[n].get('group') in
                           ('string', 'list', 'set', 'sorted_set', 'hash', 'stream', 'bitmap', 'hyperloglog',
                            'geo', 'generic')]

    # ---------------- values ----------------
    def key(self):
        r = self.r
        if r.random() < 0.03:
            return r.choice(['', '\x00', 'k' * 300, '{', '}', '{}x', 'a' + str(r.randint(0, 5))])
        return r.choice(KEYS)

    def member(self):
        r = self.r
        x = r.random()
        if x < 0.75:
            return r.choice(MEMBERS[:9])
        if x < 0.95:
            return r.choice(MEMBERS)
        return self.junk()

    def junk(self):
        r = self.r
        return r.choice(['', 'nan', 'NaN', '-nan', 'inf', '-inf', '+inf', 'infinity', '1e400', '-1e400',
                         '0x10', ' 1', '1 ', '1.', '.5', '--1', '9223372036854775808', '-9223372036854775809',
                         '18446744073709551616', '4294967296', '-0', '00', '1e', 'abc', '\x00', '\xff' * 5,
                         '\r\n', '(', '[', '-', '+', '*', '$', '(1', '[a', '0-0', '18446744073709551615-1',
                         '1-18446744073709551615', 'x' * r.choice([1, 64, 65, 200, 5000]),
                         ''.join(chr(r.randint(0, 255)) for _ in range(r.randint(1, 20)))])

    def integer(self, name=''):
        r = self.r
        x = r.random()
        if x < 0.07:
            return self.junk()
        if x < 0.15:
            return r.choice(['9223372036854775807', '-9223372036854775808', '2147483647', '-2147483648',
                             '4294967295', '4294967296', '-4294967296', '9223372036854775806',
                             '-9223372036854775807'])
        if x < 0.3:
            return str(r.randint(-5, 5))
        if x < 0.9:
            return str(r.randint(0, 20))
        return str(r.randint(-1000, 1000))

    def double(self, name=''):
        r = self.r
        x = r.random()
        if x < 0.08:
            return self.junk()
        if x < 0.2:
            return r.choice(['inf', '-inf', '+inf', '0', '-0', '1e308', '-1e308', '5e-324', '1.7976931348623157e308',
                             '(1', '(-inf', '(+inf', '(nan', '1.5', '3.14159265358979323846264338327950288'])
        if x < 0.6:
            return str(r.randint(-10, 10))
        return repr(round(r.uniform(-100, 100), r.randint(0, 6)))

    def pattern(self):
        return self.r.choice(['*', 'k*', '{a}*', 'w_*', '*->f', 'h*->m1', '#', 'h?', '[a-c]*', '', '\\', '[',
                              '[^a]*', 'nosort', '*' * 30 + 'x', '[a-', '\\[', 'a*b*c*d*e*f*g*', '?'])

    def stream_id(self, name=''):
        r = self.r
        x = r.random()
        ids = self.sh.get('stream_ids') or []
        if x < 0.3 and ids:
            return r.choice(ids)
        if x < 0.6:
            return r.choice(['0', '0-0', '0-1', '1', '1-1', '2-0', '5-5', '$', '>', '*', '-', '+', '1-*',
                             '(1-0', '(0-0', '18446744073709551615-18446744073709551615', '+', '-'])
        if x < 0.9:
            return '%d-%d' % (r.randint(0, 20), r.randint(0, 5))
        return self.junk()

    def timeout(self):
        # blocking timeouts: always short, never 0 (0 would block forever)
        r = self.r
        return r.choice(['0.01', '0.02', '0.05', '0.1', '0.001', '0.2'])

    def dump_payload(self):
        r = self.r
        pl = self.sh.get('payloads') or []
        if not pl or r.random() < 0.15:
            return self.craft_payload()
        p = bytearray(r.choice(pl).encode('latin-1'))
        x = r.random()
        if x < 0.5:
            return p.decode('latin-1')
        if x < 0.6:
            # random corruption, checksum left wrong
            if p:
                p[r.randrange(len(p))] ^= 1 << r.randrange(8)
            return p.decode('latin-1')
        # corrupt the body and fix the CRC so it gets parsed deeply
        body = p[:-10] if len(p) >= 10 else p
        body = bytearray(body)
        for _ in range(r.randint(1, 4)):
            op = r.random()
            if not body:
                break
            i = r.randrange(len(body))
            if op < 0.5:
                body[i] = r.randrange(256)
            elif op < 0.7:
                body[i] ^= 1 << r.randrange(8)
            elif op < 0.85:
                del body[i:i + r.randint(1, 8)]
            else:
                body[i:i] = bytes(r.randrange(256) for _ in range(r.randint(1, 8)))
        return self.seal(bytes(body))

    def seal(self, body, ver=10):
        b = body + struct.pack('<H', ver)
        return (b + struct.pack('<Q', crc64(b))).decode('latin-1')

    def craft_payload(self):
        r = self.r

        def rlen(n):
            if n < 64:
                return bytes([n])
            if n < 16384:
                return bytes([0x40 | (n >> 8), n & 0xff])
            return b'\x80' + struct.pack('>I', n)

        def rstr(s):
            return rlen(len(s)) + s
        t = r.choice(['str', 'int', 'list', 'set', 'zset', 'hash', 'intset', 'lp', 'junk'])
        if t == 'str':
            body = b'\x00' + rstr(b'hello' * r.randint(0, 20))
        elif t == 'int':
            body = b'\x00' + r.choice([b'\xc0\x7f', b'\xc1\xff\x7f', b'\xc2\xff\xff\xff\x7f', b'\xc3\x05\x10\x00\x00',
                                      b'\xc4', b'\xff'])
        elif t == 'list':
            n = r.randint(0, 3)
            body = b'\x01' + rlen(n + r.choice([0, 0, 1, 100])) + b''.join(rstr(b'e%d' % i) for i in range(n))
        elif t == 'set':
            n = r.randint(0, 3)
            body = b'\x02' + rlen(n + r.choice([0, 0, 1])) + b''.join(rstr(b's%d' % i) for i in range(n))
        elif t == 'zset':
            n = r.randint(0, 3)
            body = b'\x05' + rlen(n) + b''.join(rstr(b'z%d' % i) + struct.pack('<d', r.choice(
                [1.0, float('nan'), float('inf'), -0.0, 3.5])) for i in range(n))
        elif t == 'hash':
            n = r.randint(0, 3)
            body = b'\x04' + rlen(n) + b''.join(rstr(b'f%d' % i) + rstr(b'v%d' % i) for i in range(n))
        elif t == 'intset':
            enc = r.choice([2, 4, 8, 3, 0])
            n = r.randint(0, 4)
            vals = sorted(r.sample(range(-100, 100), n))
            if r.random() < 0.3:
                vals = vals[::-1] + vals[:1]
            fmt = {2: '<h', 4: '<i', 8: '<q'}.get(enc, '<h')
            blob = struct.pack('<II', enc, max(0, len(vals) + r.choice([0, 0, 0, 1, -1]))) + b''.join(
                struct.pack(fmt, v) for v in vals)
            body = b'\x0b' + rstr(blob)
        elif t == 'lp':
            # listpack with random entries; types 16 (hash lp), 17 (zset lp), 18 (quicklist2), 20 (set lp)
            ents = []
            n = r.randint(0, 6)
            for i in range(n):
                if r.random() < 0.5:
                    v = r.randint(0, 127)
                    e = bytes([v])
                else:
                    s = (b's%d' % i) * r.randint(1, 3)
                    e = bytes([0x80 | len(s)]) + s
                bl = len(e)
                e += bytes([bl])
                ents.append(e)
            data = b''.join(ents)
            tot = 6 + len(data) + 1
            lp = struct.pack('<IH', tot + r.choice([0, 0, 0, 1, -1]), n + r.choice([0, 0, 0, 1])) + data + b'\xff'
            typ = r.choice([16, 17, 18, 20])
            if typ == 18:
                body = bytes([18]) + rlen(1) + rlen(2) + rstr(lp)
            else:
                body = bytes([typ]) + rstr(lp)
        else:
            body = bytes([r.randrange(22)]) + bytes(r.randrange(256) for _ in range(r.randint(0, 30)))
        return self.seal(body, r.choice([10, 10, 10, 9, 11, 0xffff]))

    # ---------------- grammar ----------------
    def value_for(self, a, cmd):
        t, name = a['type'], a.get('name', '').lower()
        r = self.r
        if t == 'key':
            return self.key()
        if t == 'pattern':
            return self.pattern()
        if t == 'unix-time':
            return r.choice([str(int(1.7e9) + r.randint(-10, 100)), str(int(1.7e12) + r.randint(-10, 10 ** 6)), '0',
                             '-1', '1', str(2 ** 62), self.integer()])
        if t == 'double':
            if name == 'timeout':
                return self.timeout()
            if name in ('longitude',):
                return r.choice([str(r.uniform(-180, 180)), '180', '-180', '181', '13.361389', self.double()])
            if name in ('latitude',):
                return r.choice([str(r.uniform(-85, 85)), '85.05112878', '85.06', '38.115556', self.double()])
            return self.double()
        if t == 'integer':
            if name == 'timeout' or name == 'milliseconds' and cmd in ('XREAD', 'XREADGROUP'):
                if cmd == 'MIGRATE':
                    return r.choice(['10', '50', '1'])
                if cmd in ('WAIT',):
                    return r.choice(['1', '5', '10'])
                if cmd in ('XREAD', 'XREADGROUP'):
                    return r.choice(['1', '5', '20', '50'])
                if cmd == 'CLIENT PAUSE':
                    return r.choice(['1', '5', '20', '50'])
                return r.choice(['1', '5', '20', self.integer()])
            if cmd in ('SRANDMEMBER', 'ZRANDMEMBER', 'HRANDFIELD') and name == 'count':
                return str(r.randint(-300, 300)) if r.random() < 0.9 else r.choice(
                    ['-9223372036854775808', '9223372036854775807', '-4611686018427387904', self.junk()])
            if name == 'offset' and cmd in ('SETRANGE', 'SETBIT', 'GETBIT', 'BITFIELD', 'BITFIELD_RO'):
                x = r.random()
                if x < 0.8:
                    return str(r.randint(0, 300))
                if x < 0.9:
                    return r.choice(['4294967296', '4294967295', '-1', '536870912', '9223372036854775807',
                                     '#0', '#1', '#100', '#-1'])
                return str(r.randint(0, 100000))
            if name in ('count',) and cmd in ('DEBUG',):
                return str(r.randint(0, 100))
            if name in ('db', 'index', 'index1', 'index2', 'destination-db'):
                return str(r.choice([0, 0, 1, 2, 15, 16, -1, 9999999999]))
            if name == 'port' and cmd == 'MIGRATE':
                return str(self.sh['port']) if r.random() < 0.5 else '1'
            if name == 'client-id':
                ids = self.sh.get('client_ids') or []
                return str(r.choice(ids)) if ids and r.random() < 0.8 else self.integer()
            return self.integer(name)
        if t == 'string':
            if name in ('member', 'member1', 'member2', 'element', 'field', 'pivot', 'value', 'arg', 'message'):
                return self.member()
            if name == 'id' or name == 'start' and cmd.startswith('X') or name == 'end' and cmd.startswith('X') \
                    or name == 'last-id' or name == 'max_deleted_entry_id':
                return self.stream_id(name)
            if name in ('group', 'groupname'):
                return r.choice(GROUPS)
            if name in ('consumer', 'consumername'):
                return r.choice(CONSUMERS)
            if name in ('channel', 'shardchannel'):
                return r.choice(CHANNELS)
            if name == 'min-idle-time':
                return r.choice(['0', '1', '1000', '-1', 'x'])
            if name == 'threshold':
                return r.choice(['0', '1', '5', '10', '1-0', '5-0', '-1', 'x', '1000'])
            if name == 'serialized-value':
                return self.dump_payload()
            if name == 'sha1':
                shas = self.sh.get('shas') or []
                return r.choice(shas) if shas and r.random() < 0.8 else r.choice(['0' * 40, 'abc', 'x' * 40])
            if name == 'encoding':
                return r.choice(['i8', 'u8', 'i16', 'u16', 'i32', 'u32', 'i64', 'u63', 'u64', 'i1', 'u1', 'i0', 'x8',
                                 'i65', 'i5', 'u7'])
            if name in ('min', 'max', 'start', 'stop', 'end'):
                if cmd in ('ZRANGEBYLEX', 'ZREVRANGEBYLEX', 'ZLEXCOUNT', 'ZREMRANGEBYLEX') or r.random() < 0.3:
                    return r.choice(['-', '+', '[a', '(a', '[m1', '(m2', '[', '(', 'a', '[\xff', '[x' * 40])
                return self.double() if r.random() < 0.6 else str(r.randint(-3, 5))
            if name == 'host':
                return '127.0.0.1'
            if name == 'section':
                return r.choice(['all', 'default', 'everything', 'keyspace', 'shards', 'memory', 'commandstats',
                                 'clients', 'persistence', 'stats', 'server', 'x'])
            if name in ('command-name', 'command', 'COMMAND'.lower()):
                return r.choice(['get', 'set', 'sort', 'eval', 'xreadgroup', 'zunionstore', 'x', 'migrate',
                                 'client|kill', 'config|get'])
            if name == 'function':
                fns = self.sh.get('funcs') or ['f1']
                return r.choice(fns)
            if name in ('library-name', 'library-name-pattern'):
                return r.choice(['lib0', 'lib1', 'lib2', 'lib*', '*', 'x'])
            if name == 'parameter':
                return r.choice(['maxmemory', 'maxmemory-policy', 'save', 'hz', 'hash-max-listpack-entries', '*',
                                 'list-max-listpack-size', 'zset-max-listpack-entries', 'set-max-intset-entries',
                                 'notify-keyspace-events', 'dir', '*max*'])
            if name == 'username':
                return r.choice(['default', 'fzuser', 'nouser', ''])
            if name == 'password':
                return r.choice(['', 'pw', 'nopass'])
            return self.member() if r.random() < 0.7 else self.junk()
        return self.member()

    def gen_args(self, args, cmd, out, depth=0):
        r = self.r
        i = 0
        while i < len(args):
            a = args[i]
            i += 1
            if a.get('optional') and r.random() < 0.55:
                continue
            reps = 1
            if a.get('multiple'):
                reps = r.choice([1, 1, 1, 2, 2, 3, 4, 6])
                # ids following keys in XREAD get the same count
                shared = self._reps_hint
                if shared is not None and a['type'] != 'key':
                    reps = shared
                self._reps_hint = reps
            for j in range(reps):
                tok = a.get('token')
                if tok is not None and (j == 0 or a.get('multiple_token')):
                    out.append('' if tok == '""' else tok)
                self.gen_one(a, cmd, out, depth)
            if a.get('name') == 'numkeys':
                # next argument is the keys: fill numkeys with their count
                self._numkeys_at = len(out) - 1
                if i < len(args):
                    b = args[i]
                    i += 1
                    before = len(out)
                    if b.get('optional') and r.random() < 0.3:
                        n = 0
                    else:
                        n = r.choice([1, 1, 2, 2, 3, 4, 5])
                        for _ in range(n):
                            if b.get('token'):
                                out.append(b['token'])
                            self.gen_one(b, cmd, out, depth)
                    cnt = n
                    if r.random() < 0.04:
                        cnt = r.choice([n + 1, n - 1, -1, 0, 100000, '9223372036854775807', 'x'])
                    out[self._numkeys_at] = str(cnt)

    def gen_one(self, a, cmd, out, depth):
        t = a['type']
        if t == 'pure-token':
            return
        if t == 'oneof':
            subs = a['arguments']
            b = self.r.choice(subs)
            b2 = dict(b)
            b2.pop('optional', None)
            self.gen_args([b2], cmd, out, depth + 1)
            return
        if t == 'block':
            saved = self._reps_hint
            self._reps_hint = None
            self.gen_args(a['arguments'], cmd, out, depth + 1)
            self._reps_hint = saved
            return
        out.append(self.value_for(a, cmd))

    def from_spec(self, name):
        sp = self.specs[name]
        out = name.split(' ')
        self._reps_hint = None
        self._numkeys_at = None
        self.gen_args(sp.get('arguments', []), name, out)
        return out

    def mutate(self, cmd):
        r = self.r
        cmd = list(cmd)
        for _ in range(r.randint(1, 2)):
            op = r.random()
            if op < 0.2 and len(cmd) > 1:
                del cmd[r.randrange(1, len(cmd))]
            elif op < 0.35 and len(cmd) > 1:
                i = r.randrange(1, len(cmd))
                cmd.insert(i, cmd[i])
            elif op < 0.5 and len(cmd) > 2:
                i, j = r.randrange(1, len(cmd)), r.randrange(1, len(cmd))
                cmd[i], cmd[j] = cmd[j], cmd[i]
            elif op < 0.75 and len(cmd) > 1:
                cmd[r.randrange(1, len(cmd))] = self.junk() if r.random() < 0.6 else self.integer()
            elif op < 0.85:
                cmd.append(r.choice(['COUNT', 'LIMIT', 'WITHSCORES', 'STORE', 'BY', 'GET', 'REV', 'NX', 'XX',
                                     'GT', 'LT', 'CH', 'INCR', 'REPLACE', 'KEEPTTL', 'EX', 'PX', 'ANY', 'IDX',
                                     'LEN', 'MATCH', 'TYPE', 'BLOCK', 'JUSTID', 'FORCE', 'ABSTTL', self.key(),
                                     self.integer()]))
            elif op < 0.92:
                cmd = cmd[:r.randint(1, len(cmd))]
            else:
                cmd[0] = cmd[0].lower() if r.random() < 0.5 else cmd[0].swapcase()
        return cmd

    # ---------------- special families ----------------
    def lua_str(self, s):
        return '"' + ''.join(c if (c.isalnum() or c in '{}_-.*#>+$ ') else '\\%d' % ord(c) for c in s) + '"'

    def lua_body(self, nkeys, allow_write=True):
        r = self.r
        stmts = []
        n = r.randint(1, 4)
        for i in range(n):
            x = r.random()
            if x < 0.75:
                name = r.choice(self.data_names) if r.random() < 0.9 else r.choice(self.names)
                if name in BLOCKING and r.random() < 0.5:
                    pass
                c = self.from_spec(name)
                if r.random() < 0.1:
                    c = self.mutate(c)
                if '3' in KNOWN_BUGS and c[0].upper() == 'PING':
                    c = ['ECHO', 'x']
                c = avoid_known(c)
                parts = []
                for a in c:
                    if a in KEYS and nkeys and r.random() < 0.7:
                        parts.append('KEYS[%d]' % r.randint(1, nkeys + (1 if r.random() < 0.05 else 0)))
                    else:
                        parts.append(self.lua_str(a))
                fn = r.choice(['redis.call', 'redis.pcall', 'redis.pcall'])
                stmts.append('local r%d = %s(%s)' % (i, fn, ','.join(parts)))
            else:
                stmts.append('local r%d = ' % i + r.choice([
                    'redis.sha1hex(tostring(ARGV[1]))', 'cjson.encode({1,2,{a=3}})', 'cjson.decode("[1,2,{\\"a\\":3}]")',
                    'cmsgpack.pack({1,2,3})', 'cmsgpack.unpack(cmsgpack.pack({1,"x",{2}}))', 'bit.band(0xff, 0x0f)',
                    'struct.pack("HH", 1, 2)', 'redis.setresp(3)', 'redis.setresp(2)',
                    'redis.error_reply("fzerr")', 'redis.status_reply("FZOK")', 'pcall(redis.call, "nosuch")',
                    'redis.acl_check_cmd("set", "k", "v")', 'redis.set_repl(redis.REPL_ALL)',
                    'redis.log(redis.LOG_NOTICE, "fzlog")', 'redis.call("select", %d)' % r.choice([0, 1, 2]),
                    'string.rep("x", 1000)', 'table.getn({1,2})', '(function() local t = {} for j=1,50 do '
                    't[j]=redis.call("incr", KEYS[1] or "k1") end return t end)()',
                    'redis.call("del", KEYS[1] or "a")',
                    'coroutine.wrap(function() return redis.call("get", "a") end)()',
                    'loadstring("return 1")', 'redis.breakpoint()', 'redis.REDIS_VERSION',
                    'cjson.decode("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]")',
                    'cmsgpack.unpack("\\220\\255\\255")', 'struct.unpack("i", "ab")',
                    'redis.call("sort", "h1", "by", "w_*", "get", "#", "get", "h*->m1")',
                ]))
        ret = r.choice(['return r0', 'return {r0, r%d}' % (n - 1), 'return r%d' % (n - 1), 'return nil',
                        'return {1, "x", {err="e"}, {ok="o"}, 3.7, true, false}', 'return {double=1.5}',
                        'return {map={a=1}}', 'return {set={a=true}}', 'return {big_number="123"}'])
        return '\n'.join(stmts + [ret])

    def eval_cmd(self):
        r = self.r
        nkeys = r.choice([0, 1, 1, 2, 3])
        body = self.lua_body(nkeys)
        if r.random() < 0.2:
            body = '#!lua flags=' + r.choice(['no-writes', 'allow-oom', 'allow-cross-slot-keys', 'no-cluster',
                                              'allow-stale', 'no-writes,allow-oom', '', 'bogus']) + '\n' + body
        keys = [self.key() for _ in range(nkeys)]
        args = [self.member() for _ in range(r.randint(0, 3))]
        shas = self.sh.setdefault('shas', [])
        sha = hashlib.sha1(body.encode('latin-1')).hexdigest()
        if len(shas) < 200:
            shas.append(sha)
        which = r.random()
        if which < 0.6:
            c = ['EVAL', body, str(nkeys)] + keys + args
        elif which < 0.7:
            c = ['EVAL_RO', body, str(nkeys)] + keys + args
        elif which < 0.85:
            c = ['EVALSHA', r.choice(shas), str(nkeys)] + keys + args
        elif which < 0.9:
            c = ['EVALSHA_RO', r.choice(shas), str(nkeys)] + keys + args
        else:
            c = ['SCRIPT', 'LOAD', body]
        return [c]

    def function_cmds(self):
        r = self.r
        lib = 'lib%d' % r.randint(0, 2)
        fns = self.sh.setdefault('funcs', ['f1'])
        cmds = []
        if r.random() < 0.3:
            regs = []
            for k in range(r.randint(1, 3)):
                fname = 'f%d' % r.randint(0, 8)
                if fname not in fns:
                    fns.append(fname)
                body = self.lua_body(2).replace('KEYS', 'keys').replace('ARGV', 'args')
                if r.random() < 0.5:
                    regs.append("redis.register_function('%s', function(keys, args)\n%s\nend)" % (fname, body))
                else:
                    fl = r.choice(['{}', "{'no-writes'}", "{'allow-oom'}", "{'allow-cross-slot-keys'}", "{'bad'}"])
                    regs.append("redis.register_function{function_name='%s', callback=function(keys, args)\n%s\nend,"
                                " flags=%s}" % (fname, body, fl))
            code = '#!lua name=%s\n' % lib + '\n'.join(regs)
            if r.random() < 0.1:
                code = r.choice(['#!lua name=%s\nreturn 1' % lib, '#!lua\n', 'x', '#!lua name=%s\nredis.call("ping")' % lib,
                                 '#!lua name=%s\nwhile true do end' % lib])
            cmds.append(['FUNCTION', 'LOAD'] + (['REPLACE'] if r.random() < 0.7 else []) + [code])
        x = r.random()
        if x < 0.8:
            nk = r.choice([0, 1, 2, 3])
            cmds.append([r.choice(['FCALL', 'FCALL', 'FCALL_RO']), r.choice(fns), str(nk)] +
                        [self.key() for _ in range(nk)] + [self.member() for _ in range(r.randint(0, 2))])
        elif x < 0.85:
            cmds.append(['FUNCTION', 'DELETE', lib])
        elif x < 0.9:
            cmds.append(['FUNCTION', 'DUMP'])
        elif x < 0.93:
            cmds.append(['FUNCTION', 'FLUSH'] + ([r.choice(['ASYNC', 'SYNC'])] if r.random() < 0.5 else []))
        else:
            d = self.sh.get('fdump')
            if d:
                cmds.append(['FUNCTION', 'RESTORE', d] + ([r.choice(['APPEND', 'REPLACE'] if '2' in KNOWN_BUGS else
                                                                     ['FLUSH', 'APPEND', 'REPLACE'])]
                                                          if r.random() < 0.7 else []))
        return cmds

    def multi_cmds(self):
        r = self.r
        cmds = []
        if r.random() < 0.4:
            cmds.append(['WATCH'] + [self.key() for _ in range(r.randint(1, 3))])
            if r.random() < 0.2:
                cmds.append(['UNWATCH'])
        cmds.append(['MULTI'])
        for _ in range(r.randint(0, 8)):
            c = self.one_cmd(in_multi=True)
            if KNOWN_BUGS:
                c = [x for x in c if not known_bug_in_multi(x)]
            cmds.extend(c)
        if r.random() < 0.05:
            cmds.append(['MULTI'])
        cmds.append(['EXEC'] if r.random() < 0.88 else ['DISCARD'])
        return cmds

    def misc_cmd(self):
        r = self.r
        x = r.random()
        p = r.choice
        if x < 0.06:
            return [['SELECT', p(['0', '0', '1', '2', '15', '16', '-1', 'x'])]]
        if x < 0.1:
            return [['SWAPDB', p(['0', '1', '2']), p(['0', '1', '2', '16'])]]
        if x < 0.13:
            return [[p(['FLUSHDB', 'FLUSHALL'])] + ([p(['ASYNC', 'SYNC'])] if r.random() < 0.5 else [])]
        if x < 0.2:
            return [['CLIENT', 'TRACKING', p(['ON', 'ON', 'OFF'])] +
                    p([[], [], ['BCAST'], ['BCAST', 'PREFIX', 'a'], ['BCAST', 'PREFIX', '{a}', 'PREFIX', 'k'],
                       ['OPTIN'], ['OPTOUT'], ['NOLOOP'], ['REDIRECT', str(p(self.sh.get('client_ids') or [1]))],
                       ['OPTIN', 'OPTOUT'], ['PREFIX', 'a']])]
        if x < 0.23:
            return [['CLIENT', 'CACHING', p(['yes', 'no'])], ['GET', self.key()]]
        if x < 0.27:
            return [['HELLO', p(['2', '3', '3', '4', '1'])]]
        if x < 0.3:
            return [['CLIENT', 'NO-EVICT', p(['on', 'off', 'x'])]]
        if x < 0.32:
            return [['CLIENT', 'PAUSE', p(['1', '5', '20', '50']), p(['WRITE', 'ALL', 'WRITE'])]]
        if x < 0.33:
            return [['CLIENT', 'UNPAUSE']]
        if x < 0.35:
            return [['CLIENT', 'REPLY', p(['OFF', 'SKIP', 'ON'])], ['SET', self.key(), 'v']]
        if x < 0.38:
            return [['CONFIG', 'SET'] + p([
                ['maxmemory-policy', p(['noeviction', 'allkeys-lru', 'volatile-lru', 'allkeys-lfu', 'volatile-lfu',
                                        'allkeys-random', 'volatile-random', 'volatile-ttl'])],
                ['maxmemory', p(['0', '0', '0', '20mb', '4mb'])],
                ['hash-max-listpack-entries', p(['0', '1', '2', '128', '512'])],
                ['zset-max-listpack-entries', p(['0', '1', '2', '128'])],
                ['set-max-intset-entries', p(['0', '1', '2', '512'])],
                ['set-max-listpack-entries', p(['0', '1', '2', '128'])],
                ['list-max-listpack-size', p(['-2', '-1', '1', '2', '-5'])],
                ['list-compress-depth', p(['0', '1', '2'])],
                ['notify-keyspace-events', p(['', 'KEA', 'Kx', 'Elg$', 'AKEtm'])],
                ['hz', p(['10', '100', '1'])],
                ['stream-node-max-entries', p(['1', '2', '100'])],
                ['lfu-log-factor', p(['0', '10'])],
                ['slowlog-log-slower-than', p(['0', '10000', '-1'])],
                ['latency-monitor-threshold', p(['0', '1'])],
                ['tracking-table-max-keys', p(['1', '10', '1000000'])],
                ['zset-max-listpack-value', p(['0', '1', '64'])],
                ['hash-max-listpack-value', p(['0', '1', '64'])],
                ['proto-max-bulk-len', p(['1mb', '512mb'])],
                ['busy-reply-threshold', p(['5000', '100'])],
                ['appendonly', p(['no', 'no', 'yes'])],
                ['maxmemory-policy', 'allkeys-lru', 'maxmemory', p(['0', '10mb']), 'hz', 'x'],
            ])]
        if x < 0.4:
            return [['CLIENT', 'ID']]
        if x < 0.41:
            return [['CLIENT', 'KILL', 'ID', str(p(self.sh.get('client_ids') or [99999]))]]
        if x < 0.415:
            return [['CLIENT', 'KILL', 'TYPE', p(['pubsub', 'normal']), 'SKIPME', 'yes']]
        if x < 0.43:
            return [['CLIENT', 'UNBLOCK', str(p(self.sh.get('client_ids') or [1])), p(['TIMEOUT', 'ERROR', 'x'])]]
        if x < 0.45:
            return [['WAIT', p(['0', '0', '1']), p(['1', '5', '10'])]]
        if x < 0.47:
            return [['MIGRATE', '127.0.0.1', p([str(self.sh['port']), '1']), p([self.key(), '']),
                     p(['0', '1', '16']), p(['10', '50', '1'])] + p([[], ['COPY'], ['REPLACE'], ['COPY', 'REPLACE']]) +
                    p([[], [], ['KEYS', self.key(), self.key()]])]
        if x < 0.5:
            return [['DEBUG'] + p([['OBJECT', self.key()], ['DIGEST'], ['DIGEST-VALUE', self.key(), self.key()],
                                   ['PROTOCOL', p(['string', 'integer', 'double', 'bignum', 'null', 'array', 'set',
                                                   'map', 'attrib', 'push', 'verbatim', 'true', 'false', 'x'])],
                                   ['LISTPACK', self.key()], ['QUICKLIST', self.key()],
                                   ['SET-ACTIVE-EXPIRE', p(['0', '1'])], ['STRINGMATCH-TEST'],
                                   ['QUICKLIST-PACKED-THRESHOLD', p(['100', '1k', '0', '-1'])],
                                   ['HTSTATS', p(['0', '1', '99'])], ['HTSTATS-KEY', self.key()],
                                   ['POPULATE', str(r.randint(0, 50)), p(['key', 'a', '{a}'])] +
                                   p([[], [str(r.randint(0, 100))]]),
                                   ['CHANGE-REPL-ID'], ['JMAP'], ['LOG', 'fz'], ['ERROR', 'fz'],
                                   ['SLEEP', '0'], ['HELP']])]
        if x < 0.53:
            return [['PSUBSCRIBE', p(['*', 'ch*', '__key*__:*'])], ['SUBSCRIBE', p(CHANNELS)],
                    ['SSUBSCRIBE', p(CHANNELS)]][:r.randint(1, 3)] + \
                [['PING'], ['PUBLISH', p(CHANNELS), 'm'], ['SPUBLISH', p(CHANNELS), 'm']][:r.randint(0, 3)] + \
                [p([['UNSUBSCRIBE'], ['PUNSUBSCRIBE'], ['SUNSUBSCRIBE', p(CHANNELS)], ['RESET']])]
        if x < 0.56:
            return [['RESTORE', self.key(), p(['0', '0', '100', '-1', str(int(1.7e12))]), self.dump_payload()] +
                    p([[], ['REPLACE'], ['REPLACE'], ['REPLACE', 'ABSTTL'], ['REPLACE', 'IDLETIME', '10'],
                       ['REPLACE', 'FREQ', '5'], ['IDLETIME', '1', 'FREQ', '1']])]
        if x < 0.6:
            return [['DUMP', self.key()]]
        if x < 0.62:
            return [[p(['SAVE', 'BGSAVE', 'BGSAVE', 'LASTSAVE', 'BGREWRITEAOF'])]]
        if x < 0.64:
            return [['ACL', 'SETUSER', 'fzuser'] + p([['on', '>pw', '~*', '+@all'], ['reset'], ['off'],
                                                      ['on', 'nopass', '~a*', '&*', '-@dangerous', '+get'],
                                                      ['%R~k*', '%W~{a}*', '+@all'], ['allkeys', 'allchannels'],
                                                      ['bogus']])]
        if x < 0.65:
            return [['AUTH', 'fzuser', 'pw'], ['GET', self.key()], ['SET', self.key(), 'v'], ['AUTH', 'default', 'x'],
                    ['RESET']]
        if x < 0.66:
            return [['ACL', 'DELUSER', 'fzuser']]
        if x < 0.7:
            return [['OBJECT', p(['ENCODING', 'FREQ', 'IDLETIME', 'REFCOUNT']), self.key()]]
        if x < 0.75:
            # SORT with STORE / BY / GET across shards
            c = [p(['SORT', 'SORT', 'SORT_RO']), self.key()]
            if r.random() < 0.5:
                c += ['BY', self.pattern()]
            for _ in range(r.randint(0, 3)):
                c += ['GET', self.pattern()]
            if r.random() < 0.3:
                c += ['LIMIT', self.integer(), self.integer()]
            if r.random() < 0.5:
                c += [p(['ALPHA', 'ASC', 'DESC'])]
            if c[0] == 'SORT' and r.random() < 0.6:
                c += ['STORE', self.key()]
            return [c]
        if x < 0.8:
            k = self.key()
            return [['XGROUP', 'CREATE', k, p(GROUPS), p(['$', '0', '0-0']), 'MKSTREAM'],
                    ['XADD', k, '*', 'f', 'v'],
                    ['XREADGROUP', 'GROUP', p(GROUPS), p(CONSUMERS), 'COUNT', '2'] +
                    (['BLOCK', p(['1', '10'])] if r.random() < 0.4 else []) + ['STREAMS', k, self.key(), '>', '>']]
        if x < 0.85:
            return [[p(['BLPOP', 'BRPOP', 'BZPOPMIN', 'BZPOPMAX']), self.key(), self.key(), self.timeout()]]
        if x < 0.9:
            return [['BLMOVE', self.key(), self.key(), p(['LEFT', 'RIGHT']), p(['LEFT', 'RIGHT']), self.timeout()]]
        if x < 0.93:
            return [['SCRIPT', p(['FLUSH', 'EXISTS', 'KILL']), p(['ASYNC', 'SYNC', '0' * 40])]]
        if x < 0.96:
            return [['FUNCTION', p(['LIST', 'STATS', 'KILL', 'DUMP'])]]
        return [['MOVE', self.key(), p(['0', '1', '2', '16'])]]

    def one_cmd(self, in_multi=False):
        r = self.r
        x = r.random()
        if x < 0.05 and not in_multi:
            return self.multi_cmds()
        if x < 0.1:
            return self.eval_cmd()
        if x < 0.13:
            return self.function_cmds()
        if x < 0.22:
            return self.misc_cmd()
        name = r.choices(self.names, self.weights)[0]
        c = self.short_timeout(name, self.from_spec(name))
        if r.random() < 0.12:
            c = self.mutate(c)
            if name in BLOCKING or name in ('XREAD', 'XREADGROUP', 'CLIENT PAUSE'):
                # mutation may have turned a timeout into 0/huge: keep the original
                c = self.short_timeout(name, self.from_spec(name))
        return [c]

    def short_timeout(self, name, c):
        # a blocking command's timeout (first for the MPOPs, else last) is short
        if name in BLOCKING:
            c[1 if name in ('BLMPOP', 'BZMPOP') else -1] = self.timeout()
        return c

    def batch(self, n):
        out = []
        while len(out) < n:
            out.extend(avoid_known(c) for c in self.one_cmd())
        return out
