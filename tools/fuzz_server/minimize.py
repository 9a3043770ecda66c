#!/usr/bin/python3
"""Minimize a fuzz finding: replay a run's logged batches (sequentially) on fresh servers, ddmin them.
   minimize.py RUNDIR [--last N] [--shards 4] [--tries 3] [--out $FZ_DIR/min_<seed>.json]"""
import argparse, json, os, re, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fuzz_server as F

TAILS = ('DISCARD', 'RESET', 'ECHO')


def signature(logpath, why):
    try:
        t = open(logpath, errors='replace').read()
    except OSError:
        return why
    m = re.search(r'#0 0x[0-9a-f]+ in (\S+)', t)
    if m:
        return m.group(1)
    if why and 'hang' in why:
        return 'hang'
    return why


class M:
    def __init__(self, shards, tries, sig):
        self.shards, self.tries, self.sig, self.n = shards, tries, sig, 0

    def test(self, batches):
        for _ in range(self.tries):
            self.n += 1
            why, log = F.replay(batches, self.shards, os.path.join(F.FZ_DIR, 'min_work'), wait=3.0)
            if why:
                s = signature(log, why)
                if self.sig is None or s == self.sig:
                    return True
        return False


def ddmin(items, test, build):
    n = 2
    while len(items) >= 2:
        chunk = max(1, len(items) // n)
        subsets = [items[i:i + chunk] for i in range(0, len(items), chunk)]
        reduced = False
        for i, s in enumerate(subsets):
            comp = [x for j, ss in enumerate(subsets) if j != i for x in ss]
            if test(build(s)):
                items, n, reduced = s, 2, True
                break
            if test(build(comp)):
                items, n, reduced = comp, max(n - 1, 2), True
                break
        if not reduced:
            if n >= len(items):
                break
            n = min(len(items), n * 2)
        print('  ddmin: %d items' % len(items), flush=True)
    return items


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('rundir')
    ap.add_argument('--last', type=int, default=200)
    ap.add_argument('--shards', type=int, default=4)
    ap.add_argument('--tries', type=int, default=2)
    ap.add_argument('--sig')
    ap.add_argument('--out')
    a = ap.parse_args()
    recs = F.load_batches(a.rundir)
    sig = a.sig or signature(os.path.join(a.rundir, 'server.log'), 'crash')
    print('signature', sig, 'batches', len(recs))
    recs = recs[-a.last:] if a.last else recs
    m = M(a.shards, a.tries, sig)
    if not m.test(recs):
        print('does not reproduce with the last %d batches (sequential replay)' % len(recs))
        sys.exit(2)
    # 1: batches
    build_b = lambda items: items
    recs = ddmin(recs, m.test, build_b)
    print('batches left', len(recs))
    # 2: commands inside them
    units = []
    for bi, r in enumerate(recs):
        for ci, c in enumerate(r['cmds']):
            if c[0].upper() in TAILS and ci >= len(r['cmds']) - 4:
                continue
            units.append((bi, ci))

    def build_c(sel):
        sel = set(sel)
        out = []
        for bi, r in enumerate(recs):
            cmds = [c for ci, c in enumerate(r['cmds']) if (bi, ci) in sel]
            if not cmds:
                continue
            tail = [c for ci, c in enumerate(r['cmds']) if c[0].upper() in TAILS and ci >= len(r['cmds']) - 4]
            out.append(dict(r, cmds=cmds + tail))
        return out
    units = ddmin(units, m.test, build_c)
    final = build_c(units)
    print('tests run', m.n)
    out = a.out or os.path.join(F.FZ_DIR, 'min_%s.json') % os.path.basename(a.rundir.rstrip('/'))
    json.dump(final, open(out, 'w'), indent=1)
    for r in final:
        print('conn', r['w'], 'drop' if r.get('drop') else '', json.dumps(r['cmds'])[:2000])
    print('saved', out)


if __name__ == '__main__':
    main()
