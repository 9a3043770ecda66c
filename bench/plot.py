#!/usr/bin/env python3
"""SVG charts of the Markdown tables in bench/results/*.md (standard library only).

    python3 bench/plot.py bench/results/FILE.md [...]   # charts of these files
    python3 bench/plot.py --all                          # of every results file

For each table of a results file that holds figures worth a picture it writes
`<file stem>-<n>.svg` beside the file (n: the table's number in the file,
counting from 1 in document order; a code block of redis-benchmark CSV lines,
as side_by_side.sh and aof.py keep, counts as a table too) and prints its
path. A table it cannot plot is skipped with a line on stderr. The SVG is
plain SVG 1.1 (no script, no external reference, sans-serif text), so it
shows in a browser and on GitHub.

What it draws, by the table's columns:
- a `shards` column: a line chart of each figure against the shard count;
- percentile columns (p50, p99, p99.9 ...): the percentiles side by side;
- pairs of columns that differ in their first word ("redis us/req" and
  "shardis us/req", "before us/req" and "after us/req"): CPU (or memory) per
  request, one bar per side, and ratio columns with a line at 1.0;
- a `server` column, several rows per server (one per workload): the CPU
  columns, one bar per server, and the ratio to redis-server with a 1.0 line;
- a `server` column, one row per server: every varying figure, grouped by unit;
- redis-benchmark CSV lines: p50 and p99 latency per test (or p50/p95/p99 per
  server when there is one test), the median when a line repeats.
A `depth` column splits a chart into one panel per pipeline depth. An axis
whose values span more than a factor of 100 is logarithmic.
"""

import argparse
import csv
import glob
import math
import os
import re
import statistics
import sys
from xml.sax.saxutils import escape

NUM_RE = re.compile(r"^([+-]?(?:\d+\.?\d*|\.\d+))(?:\s*(x|%)|\s+\([^)]*\))?$")
MISSING = {"", "-", "n/a", "na", "?"}
LABEL_NUMERIC = {"depth", "round", "shards", "shard", "pipeline", "-p", "run"}
IGNORED = {"runs", "requests"}
PCT_RE = re.compile(r"^p\d+(?:\.\d+)?\b", re.I)
CSV_LINE_RE = re.compile(r"^(?P<who>.+?)\s+P(?P<depth>\d+)\s+(?:[\w-]+:\s*)?(?P<csv>\"?[A-Za-z].*)$")

PALETTE = ["#4e79a7", "#59a14f", "#f28e2b", "#b07aa1", "#76b7b2", "#edc948", "#9c755f",
           "#ff9da7", "#bab0ac"]
REDIS_COLOR = "#e15759"
WIDTH = 820
FONT = "font-family=\"sans-serif\""


# ---------------------------------------------------------------- parsing

def parse_num(cell):
    """The number in a cell ("1.25", "0.84x", "60.7 %", "13.60 (13.30-14.65)"), or None."""
    m = NUM_RE.match(cell.strip())
    return float(m.group(1)) if m else None


def is_missing(cell):
    return cell.strip().lower() in MISSING


def split_row(line):
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    cells = re.split(r"(?<!\\)\|", s)
    return [c.strip().replace("\\|", "|").strip("`*_ ") for c in cells]


class Table:
    def __init__(self, headers, rows, heading, caption, kind="md"):
        self.headers, self.rows, self.heading, self.caption, self.kind = (
            headers, rows, heading, caption, kind)


def parse_markdown(text):
    """Tables in document order: Table objects; redis-benchmark CSV code blocks become
    Table(kind="csv") whose rows are (who, depth, test, [fields])."""
    lines = text.splitlines()
    tables, heading, h1, last_text = [], "", "", ""
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        st = line.strip()
        if st.startswith("```"):
            j, block = i + 1, []
            while j < n and not lines[j].strip().startswith("```"):
                block.append(lines[j])
                j += 1
            rows = parse_csv_block(block)
            if rows:
                tables.append(Table(None, rows, heading or h1, "redis-benchmark latency", "csv"))
            i = j + 1
            continue
        if (st.startswith("|") and i + 1 < n
                and re.match(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$", lines[i + 1].strip())):
            headers = split_row(line)
            rows = []
            j = i + 2
            while j < n and lines[j].strip().startswith("|"):
                cells = split_row(lines[j])
                cells = (cells + [""] * len(headers))[:len(headers)]
                rows.append(cells)
                j += 1
            tables.append(Table(headers, rows, heading or h1, last_text))
            i = j
            continue
        if st.startswith("# "):
            h1 = st[2:].strip()
        elif st.startswith("#"):
            heading = (h1 + ": " if h1 else "") + st.lstrip("#").strip()
        elif st:
            last_text = st if len(st) < 90 and not st.startswith("-") else ""
        i += 1
    return tables, h1


def parse_csv_block(block):
    rows = []
    for line in block:
        m = CSV_LINE_RE.match(line.strip())
        if not m:
            continue
        try:
            fields = next(csv.reader([m.group("csv")]))
        except (csv.Error, StopIteration):
            continue
        if len(fields) < 8:
            continue
        try:
            nums = [float(f) for f in fields[1:8]]
        except ValueError:
            continue
        test = fields[0].split(" (")[0].strip()
        rows.append((m.group("who").strip(), int(m.group("depth")), test, nums))
    return rows


# ---------------------------------------------------------------- choosing

def is_ratio(h):
    return bool(re.search(r"ratio|/ ?redis\b|x redis|\bx\b", h, re.I))


def is_cpu(h):
    return bool(re.search(r"cpu|\bus/|\(us\)|\(ms\)|\bus\b|\bms\b", h, re.I))


def is_mem(h):
    return bool(re.search(r"B/elem|\bRSS\b|used|\((?:k|M|G)?B\)|memory|per key", h))


UNITS = {"us": "microseconds", "ms": "milliseconds", "s": "seconds", "B": "bytes",
         "kB": "kB", "MB": "MB", "GB": "GB", "%": "percent", "/s": "per second"}


def unit_of(h):
    m = re.search(r"\((us|ms|s|B|kB|MB|GB|%)\)\s*$", h)
    if m:
        return m.group(1)
    if re.search(r"/s\b|\brps\b", h):
        return "/s"
    m = re.search(r"\b(us|ms|s|B|kB|MB|GB)\b(?:/\w+)?\s*(?:\(.*\))?$", h)
    if m:
        return m.group(0).split(" (")[0]
    if re.search(r"%", h):
        return "%"
    return h


class Panel:
    """One chart: categories (rows of bars or x positions) and series (name, values)."""

    def __init__(self, title, axis, categories, series, ref=None, line=False, cat_axis=""):
        self.title, self.axis, self.categories, self.series = title, axis, categories, series
        self.ref, self.line, self.cat_axis = ref, line, cat_axis


class Plan:
    def __init__(self, headers, rows):
        # Duplicate headers ("ratio" twice in geo.md) are named after the column before.
        seen, hs = {}, []
        for h in headers:
            seen[h] = seen.get(h, 0) + 1
        for k, h in enumerate(headers):
            hs.append("%s %s" % (headers[k - 1], h) if seen[h] > 1 and k > 0 else h)
        self.headers = hs
        # A summary row such as "ratio shardis/redis" is not a data row.
        self.rows = [r for r in rows if not r[0].lower().startswith("ratio")]
        self.numeric, self.labels = [], []
        for k, h in enumerate(hs):
            cells = [r[k] for r in self.rows]
            present = [c for c in cells if not is_missing(c)]
            nums = [parse_num(c) for c in present]
            if h.lower() in IGNORED:
                continue
            if present and all(v is not None for v in nums):
                if h.lower() in LABEL_NUMERIC:
                    self.labels.append(k)
                else:
                    self.numeric.append(k)
            elif present:
                self.labels.append(k)

    def col(self, k):
        return [None if is_missing(r[k]) else parse_num(r[k]) for r in self.rows]

    def varying(self, k):
        vals = [v for v in self.col(k) if v is not None]
        return len(set(vals)) > 1

    def find(self, *names):
        for k in self.labels + self.numeric:
            if self.headers[k].lower() in names:
                return k
        return None


def key_of(row, cols):
    return ", ".join(row[k] for k in cols) if cols else ""


def pivot(plan, rows, cat_cols, series_fn, value_k):
    """categories (first-seen order), series name -> {category: value}."""
    cats, series = [], {}
    for r in rows:
        c = key_of(r, cat_cols)
        if c not in cats:
            cats.append(c)
        v = None if is_missing(r[value_k]) else parse_num(r[value_k])
        series.setdefault(series_fn(r), {})[c] = v
    return cats, [(name, [d.get(c) for c in cats]) for name, d in series.items()]


def split_by(plan, rows):
    """Rows per pipeline depth when a depth column varies, else one group."""
    k = plan.find("depth", "pipeline", "-p")
    if k is None or len({r[k] for r in rows}) < 2:
        return [("", rows)], None
    groups = []
    for r in rows:
        label = "depth " + r[k]
        for g in groups:
            if g[0] == label:
                g[1].append(r)
                break
        else:
            groups.append((label, [r]))
    return groups, k


def with_sub(title, sub):
    return "%s, %s" % (title, sub) if sub else title


def plan_table(t):
    """The panels for a Markdown table, or (None, reason)."""
    if t.kind == "csv":
        return plan_csv(t.rows), None
    plan = Plan(t.headers, t.rows)
    if not plan.rows:
        return None, "no rows"
    if not plan.numeric:
        return None, "no numeric column"
    hs = plan.headers
    k_shards = plan.find("shards", "shard")
    pct = [k for k in plan.numeric if PCT_RE.match(hs[k])]
    if k_shards is not None and len({r[k_shards] for r in plan.rows}) > 1:
        return plan_shards(plan, k_shards), None
    if len(pct) >= 2:
        return plan_percentiles(plan, pct), None
    groups = pair_groups(plan)
    if any(not is_ratio(rest) for rest in groups):
        return plan_wide(plan, groups), None
    k_server = plan.find("server", "servers")
    if k_server is None:
        for k in plan.labels:
            if any(re.search(r"redis|shardis", r[k], re.I) for r in plan.rows):
                k_server = k
                break
    if k_server is not None:
        names = [r[k_server] for r in plan.rows]
        if len(set(names)) < len(names):
            return plan_long(plan, k_server), None
        return plan_per_server(plan, k_server), None
    return plan_generic(plan), None


def category_cols(plan, rows, exclude):
    return [k for k in plan.labels if k not in exclude and len({r[k] for r in rows}) > 1]


def pair_groups(plan):
    """rest of header -> [(first word, column)] where two or more columns share the rest."""
    groups = {}
    for k in plan.numeric:
        parts = plan.headers[k].split(None, 1)
        if len(parts) == 2 and parts[0].lower() != "ratio" and not parts[1].startswith("("):
            groups.setdefault(parts[1], []).append((parts[0], k))
    return {rest: g for rest, g in groups.items() if len({w for w, _ in g}) >= 2}


def choose_metrics(plan, ks):
    cpu = [k for k in ks if is_cpu(plan.headers[k])]
    if cpu:
        return cpu
    mem = [k for k in ks if is_mem(plan.headers[k])]
    return mem or ks


def choose_ratios(plan):
    ratios = [k for k in plan.numeric if is_ratio(plan.headers[k])]
    cpu = [k for k in ratios if is_cpu(plan.headers[k])]
    return cpu or ratios


def plan_wide(plan, groups):
    panels = []
    splits, k_depth = split_by(plan, plan.rows)
    value_groups = {r: g for r, g in groups.items() if not is_ratio(r)}
    chosen = choose_metrics(plan, [g[0][1] for g in value_groups.values()])
    chosen_rests = [r for r, g in value_groups.items() if g[0][1] in chosen]
    ratio_groups = [r for r in groups if is_ratio(r)]
    grouped = {k for g in groups.values() for _, k in g}
    single_ratios = [k for k in choose_ratios(plan) if k not in grouped]
    for rest in chosen_rests + ratio_groups + [None]:
        for sub, rows in splits:
            cats_cols = category_cols(plan, rows, {k_depth})
            cats = [key_of(r, cats_cols) for r in rows]
            if rest is None:
                if not single_ratios:
                    continue
                series = [(plan.headers[k], [parse_num(r[k]) for r in rows]) for k in single_ratios]
                title = plan.headers[single_ratios[0]] if len(single_ratios) == 1 else "ratio"
                panels.append(Panel(with_sub(title, sub), "ratio (1.0: the same)", cats, series,
                                    ref=1.0, cat_axis=cat_label(plan, cats_cols)))
                continue
            series = [(w, [None if is_missing(r[k]) else parse_num(r[k]) for r in rows])
                      for w, k in groups[rest]]
            ratio = is_ratio(rest)
            panels.append(Panel(with_sub(group_title(rest, groups[rest]), sub),
                                "ratio (1.0: the same)" if ratio else rest,
                                cats, series, ref=1.0 if ratio else None,
                                cat_axis=cat_label(plan, cats_cols)))
    return panels


SIDE_WORDS = {"redis", "redis-server", "shardis", "before", "after", "valkey", "floor", "old",
              "new"}


def group_title(rest, group):
    """A title for a pair group: "us/req" -> "server CPU per request (us/req)"."""
    words = [w for w, _ in group]
    m = re.match(r"^(us|ms)/(\w+)$", rest)
    if m:
        title = "server CPU per %s (%s)" % ({"req": "request"}.get(m.group(2), m.group(2)), rest)
    elif is_ratio(rest) and "ratio" not in rest:
        title = "ratio to redis-server" if "redis" in rest else "ratio " + rest
    else:
        title = rest
    if not all(w.lower() in SIDE_WORDS for w in words):
        title = "%s: %s" % (title, ", ".join(words))
    return title


def cat_label(plan, cols):
    return ", ".join(plan.headers[k] for k in cols)


def plan_long(plan, k_server):
    panels = []
    splits, k_depth = split_by(plan, plan.rows)
    nonratio = [k for k in plan.numeric if not is_ratio(plan.headers[k]) and plan.varying(k)]
    metrics = choose_metrics(plan, nonratio)
    ratios = choose_ratios(plan)
    for k, ref in [(k, None) for k in metrics] + [(k, 1.0) for k in ratios]:
        for sub, rows in splits:
            cats_cols = category_cols(plan, rows, {k_server, k_depth})
            cats, series = pivot(plan, rows, cats_cols, lambda r: r[k_server], k)
            if ref is not None:  # the reference server's own ratio is 1.0 everywhere
                series = [s for s in series
                          if any(v is not None and abs(v - 1.0) > 1e-9 for v in s[1])] or series
            if not cats_cols:
                cats = [plan.headers[k]]
            panels.append(Panel(with_sub(plan.headers[k], sub),
                                "ratio (1.0: the same)" if ref else plan.headers[k],
                                cats, series, ref=ref, cat_axis=cat_label(plan, cats_cols)))
    return panels


def plan_per_server(plan, k_server):
    panels = []
    names = [r[k_server] for r in plan.rows]
    cols = [k for k in plan.numeric if plan.varying(k) and not is_ratio(plan.headers[k])]
    by_unit = {}
    for k in sorted(cols, key=lambda k: (not is_cpu(plan.headers[k]), not is_mem(plan.headers[k]))):
        by_unit.setdefault(unit_of(plan.headers[k]), []).append(k)
    for unit, ks in by_unit.items():
        cats = [plan.headers[k] for k in ks]
        series = [(names[i], [plan.col(k)[i] for k in ks]) for i in range(len(names))]
        axis = cats[0] if len(ks) == 1 else UNITS.get(unit, unit)
        panels.append(Panel(", ".join(cats), axis, cats, series))
    ratios = [k for k in choose_ratios(plan) if plan.varying(k)]
    if ratios:
        cats = [plan.headers[k] for k in ratios]
        series = [(names[i], [plan.col(k)[i] for k in ratios]) for i in range(len(names))]
        series = [s for s in series
                  if any(v is not None and abs(v - 1.0) > 1e-9 for v in s[1])] or series
        panels.append(Panel("ratio", "ratio (1.0: the same)", cats, series, ref=1.0))
    return panels


def plan_generic(plan):
    panels = []
    splits, k_depth = split_by(plan, plan.rows)
    cols = [k for k in plan.numeric if plan.varying(k)]
    by_unit = {}
    for k in cols:
        by_unit.setdefault("ratio" if is_ratio(plan.headers[k]) else unit_of(plan.headers[k]),
                           []).append(k)
    for unit, ks in by_unit.items():
        for sub, rows in splits:
            cats_cols = category_cols(plan, rows, {k_depth}) or plan.labels[:1]
            cats = [key_of(r, cats_cols) or str(i + 1) for i, r in enumerate(rows)]
            series = [(plan.headers[k], [None if is_missing(r[k]) else parse_num(r[k])
                                         for r in rows]) for k in ks]
            ratio = unit == "ratio"
            title = plan.headers[ks[0]] if len(ks) == 1 else unit
            panels.append(Panel(with_sub(title, sub), "ratio (1.0: the same)" if ratio else unit,
                                cats, series, ref=1.0 if ratio else None,
                                cat_axis=cat_label(plan, cats_cols)))
    return panels


def plan_percentiles(plan, pct):
    panels = []
    splits, k_depth = split_by(plan, plan.rows)
    unit = unit_of(plan.headers[pct[0]])
    for sub, rows in splits:
        cats_cols = category_cols(plan, rows, {k_depth}) or plan.labels[:1]
        cats = [key_of(r, cats_cols) for r in rows]
        series = [(plan.headers[k], [None if is_missing(r[k]) else parse_num(r[k]) for r in rows])
                  for k in pct]
        panels.append(Panel(with_sub("latency percentiles", sub),
                            "latency" + ("" if unit.startswith("p") else " (%s)" % unit),
                            cats, series, cat_axis=cat_label(plan, cats_cols)))
    return panels


def plan_shards(plan, k_shards):
    panels = []
    others = [k for k in plan.labels if k != k_shards and len({r[k] for r in plan.rows}) > 1]
    xs = sorted({parse_num(r[k_shards]) for r in plan.rows if parse_num(r[k_shards]) is not None})
    cats = ["%g" % x for x in xs]
    cols = [k for k in plan.numeric if plan.varying(k)]
    for k in cols:
        series = {}
        for r in plan.rows:
            x = parse_num(r[k_shards])
            if x is None:
                continue
            name = key_of(r, others) or plan.headers[k]
            series.setdefault(name, {})[x] = None if is_missing(r[k]) else parse_num(r[k])
        panels.append(Panel(plan.headers[k] + " against shards", plan.headers[k], cats,
                            [(n, [d.get(x) for x in xs]) for n, d in series.items()],
                            ref=1.0 if is_ratio(plan.headers[k]) else None, line=True,
                            cat_axis="shards"))
    return panels


def plan_csv(rows):
    """redis-benchmark CSV (test, rps, avg, min, p50, p95, p99, max ms): medians of repeats."""
    cells = {}
    for who, depth, test, nums in rows:
        cells.setdefault((who, depth, test), []).append(nums)
    whos, depths, tests = [], [], []
    for who, depth, test in cells:
        for lst, v in ((whos, who), (depths, depth), (tests, test)):
            if v not in lst:
                lst.append(v)
    med = {key: [statistics.median(col) for col in zip(*v)] for key, v in cells.items()}
    panels = []
    for depth in depths:
        sub = "-P %d" % depth
        if len(tests) > 1:
            cats, series = tests, []
            for who in whos:
                for name, idx in (("p50", 3), ("p99", 5)):
                    series.append(("%s %s" % (who, name),
                                   [med.get((who, depth, t), [None] * 7)[idx] for t in tests]))
            cat_axis = "test"
        else:
            cats, series = whos, []
            for name, idx in (("p50", 3), ("p95", 4), ("p99", 5)):
                series.append((name, [med.get((w, depth, tests[0]), [None] * 7)[idx]
                                      for w in whos]))
            cat_axis = "server"
            sub = "%s %s" % (tests[0], sub)
        panels.append(Panel("latency percentiles, %s" % sub, "client latency (ms)", cats, series,
                            cat_axis=cat_axis))
    return panels


# ---------------------------------------------------------------- drawing

def fmt(v):
    a = abs(v)
    if a >= 1e6:
        return "%.2fM" % (v / 1e6)
    if a >= 1e4:
        return "%.0fk" % (v / 1e3)
    if a >= 100:
        return "%.0f" % v
    if a >= 10:
        return ("%.2f" % v).rstrip("0").rstrip(".")
    return ("%.3f" % v).rstrip("0").rstrip(".") if a else "0"


def nice_step(span, n=5):
    raw = span / n if span > 0 else 1
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


class Scale:
    def __init__(self, values, ref, x0, x1, start_zero=True):
        vals = [v for v in values if v is not None]
        if ref is not None:
            vals.append(ref)
        lo, hi = min(vals + [0.0] if start_zero else vals), max(vals + [0.0])
        pos = [v for v in vals if v > 0]
        self.log = bool(pos) and lo >= 0 and min(pos) > 0 and max(pos) / min(pos) > 100
        self.x0, self.x1 = x0, x1
        if self.log:
            self.lo = 10 ** math.floor(math.log10(min(pos)))
            self.hi = 10 ** math.ceil(math.log10(max(pos)))
            if self.hi <= self.lo:
                self.hi = self.lo * 10
            self.ticks = []
            t = self.lo
            while t <= self.hi * 1.0001:
                self.ticks.append(t)
                t *= 10
        else:
            if hi == lo:
                hi = lo + 1
            step = nice_step(hi - lo)
            self.lo = math.floor(lo / step) * step
            self.hi = math.ceil(hi / step) * step
            n = int(round((self.hi - self.lo) / step))
            self.ticks = [self.lo + i * step for i in range(n + 1)]

    def __call__(self, v):
        if self.log:
            v = max(v, self.lo)
            f = (math.log10(v) - math.log10(self.lo)) / (math.log10(self.hi) - math.log10(self.lo))
        else:
            f = (v - self.lo) / (self.hi - self.lo)
        return self.x0 + f * (self.x1 - self.x0)

    def base(self):
        return self(self.lo) if self.log else self(max(self.lo, min(0.0, self.hi)))


def text(x, y, s, size=12, anchor="start", weight=None, fill="#222", extra=""):
    w = ' font-weight="%s"' % weight if weight else ""
    return ('<text x="%.1f" y="%.1f" %s font-size="%d" text-anchor="%s" fill="%s"%s%s>%s</text>'
            % (x, y, FONT, size, anchor, fill, w, extra, escape(s)))


def text_w(s, size=12):
    return len(s) * size * 0.58


def clip(s, n=44):
    return s if len(s) <= n else s[:n - 3] + "..."


class Colors:
    def __init__(self):
        self.map, self.next, self.redis_used = {}, 0, False

    def __call__(self, name):
        if name not in self.map:
            low = name.lower()
            # "ratio shardis/redis CPU" takes the colour of the series "shardis".
            side = re.split(r"[\s/]+", re.sub(r"^ratio\s+", "", name, flags=re.I))[0]
            if side != name and side in self.map:
                self.map[name] = self.map[side]
            elif not self.redis_used and "redis" in low and "shardis" not in low:
                self.map[name], self.redis_used = REDIS_COLOR, True
            else:
                self.map[name] = PALETTE[self.next % len(PALETTE)]
                self.next += 1
        return self.map[name]


def legend(out, y, names, colors, x0=20):
    """Legend rows from y; returns the y below it."""
    x = x0
    for name in names:
        w = 18 + text_w(name, 11) + 18
        if x + w > WIDTH - 20 and x > x0:
            x, y = x0, y + 18
        out.append('<rect class="legend" x="%.1f" y="%.1f" width="12" height="12" fill="%s"/>'
                   % (x, y - 10, colors(name)))
        out.append(text(x + 17, y, name, 11))
        x += w
    return y + 14


def draw_bars(out, p, y, colors):
    labels = [clip(c) for c in p.categories]
    label_w = min(300, max([text_w(s, 11) for s in labels] + [text_w(p.cat_axis, 11), 40]) + 14)
    x0, x1 = 20 + label_w, WIDTH - 80
    series = [s for s in p.series if any(v is not None for v in s[1])]
    vals = [v for _, vs in series for v in vs if v is not None]
    sc = Scale(vals, p.ref, x0, x1)
    y = legend(out, y + 4, [n for n, _ in series], colors, x0) + 6
    if p.cat_axis:
        out.append(text(x0 - 8, y + 2, p.cat_axis, 11, "end", fill="#555", extra=' font-style="italic"'))
        y += 8
    bar_h = 14 if len(series) <= 3 else 11
    gap = 9
    top = y
    group_h = len(series) * bar_h + gap
    bottom = top + len(p.categories) * group_h
    for t in sc.ticks:  # grid
        out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e3e3e3"/>'
                   % (sc(t), top, sc(t), bottom))
    zero = sc.base()
    for ci, cat in enumerate(labels):
        gy = top + ci * group_h + gap / 2
        out.append(text(x0 - 8, gy + len(series) * bar_h / 2 + 4, cat, 11, "end"))
        for si, (name, vs) in enumerate(series):
            v = vs[ci]
            by = gy + si * bar_h
            if v is None:
                continue
            xv = sc(v)
            bx, bw = (min(zero, xv), abs(xv - zero))
            out.append('<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s">'
                       '<title>%s: %s = %s</title></rect>'
                       % (bx, by + 1, max(bw, 0.5), bar_h - 2, colors(name), escape(cat),
                          escape(name), escape(fmt(v))))
            lx, anchor = (xv + 4, "start") if v >= 0 or sc.log else (xv - 4, "end")
            out.append(text(lx, by + bar_h - 3, fmt(v) + ("x" if p.ref == 1.0 else ""), 10,
                            anchor, fill="#333"))
    out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#444"/>'
               % (zero, top, zero, bottom))
    out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#444"/>'
               % (x0, bottom, x1, bottom))
    for t in sc.ticks:
        out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#444"/>'
                   % (sc(t), bottom, sc(t), bottom + 4))
        out.append(text(sc(t), bottom + 16, fmt(t), 10, "middle", fill="#444"))
    if p.ref is not None:
        rx = sc(p.ref)
        out.append('<line class="ref" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#c00" '
                   'stroke-width="1.5" stroke-dasharray="5,3"/>' % (rx, top - 4, rx, bottom))
        out.append(text(rx, top - 7, "%g" % p.ref, 10, "middle", fill="#c00"))
    out.append(text((x0 + x1) / 2, bottom + 32, p.axis + (" (log scale)" if sc.log else ""), 11,
                    "middle", fill="#333"))
    return bottom + 40


def draw_lines(out, p, y, colors):
    x0, x1 = 80, WIDTH - 60
    series = [s for s in p.series if any(v is not None for v in s[1])]
    vals = [v for _, vs in series for v in vs if v is not None]
    y = legend(out, y + 4, [n for n, _ in series], colors, x0) + 10
    top, bottom = y, y + 220
    sc = Scale(vals, p.ref, bottom, top)  # maps values to y, upwards
    n = len(p.categories)
    xs = [x0 + 30 + (x1 - x0 - 60) * (i / (n - 1) if n > 1 else 0.5) for i in range(n)]
    for t in sc.ticks:
        out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e3e3e3"/>'
                   % (x0, sc(t), x1, sc(t)))
        out.append(text(x0 - 6, sc(t) + 4, fmt(t), 10, "end", fill="#444"))
    out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#444"/>' % (x0, top, x0, bottom))
    out.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#444"/>'
               % (x0, bottom, x1, bottom))
    for x, c in zip(xs, p.categories):
        out.append(text(x, bottom + 16, c, 11, "middle"))
    if p.ref is not None:
        out.append('<line class="ref" x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#c00" '
                   'stroke-dasharray="5,3"/>' % (x0, sc(p.ref), x1, sc(p.ref)))
    for name, vs in series:
        pts = [(x, sc(v), v) for x, v in zip(xs, vs) if v is not None]
        if len(pts) > 1:
            out.append('<polyline class="series" fill="none" stroke="%s" stroke-width="2" '
                       'points="%s"/>' % (colors(name), " ".join("%.1f,%.1f" % q[:2] for q in pts)))
        for x, yy, v in pts:
            out.append('<circle class="point" cx="%.1f" cy="%.1f" r="3.5" fill="%s">'
                       '<title>%s: %s</title></circle>' % (x, yy, colors(name), escape(name),
                                                           escape(fmt(v))))
            out.append(text(x + 6, yy - 6, fmt(v), 10, fill="#333"))
    out.append(text((x0 + x1) / 2, bottom + 34, p.cat_axis or "shards", 11, "middle", fill="#333"))
    out.append(text(18, (top + bottom) / 2, clip(p.axis, 40), 11, "middle", fill="#333",
                    extra=' transform="rotate(-90 18 %.1f)"' % ((top + bottom) / 2)))
    return bottom + 44


def render_svg(title, subtitle, panels):
    out, colors = [], Colors()
    y = 28
    out.append(text(20, y, clip(title, 110), 15, weight="bold"))
    if subtitle:
        y += 18
        out.append(text(20, y, clip(subtitle, 130), 11, fill="#555"))
    y += 14
    for p in panels:
        y += 18
        out.append(text(20, y, clip(p.title, 110), 13, weight="bold", fill="#333"))
        y += 8
        y = (draw_lines if p.line else draw_bars)(out, p, y, colors)
    height = int(y + 12)
    head = ['<?xml version="1.0" encoding="UTF-8"?>',
            '<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="%d" height="%d" '
            'viewBox="0 0 %d %d">' % (WIDTH, height, WIDTH, height),
            '<title>%s</title>' % escape(title),
            '<rect class="background" x="0" y="0" width="%d" height="%d" fill="#ffffff"/>'
            % (WIDTH, height)]
    return "\n".join(head + out + ["</svg>"]) + "\n"


# ---------------------------------------------------------------- files

def charts(text_md, name="results"):
    """(table number, svg text) for every plottable table; (table number, reason) in skipped."""
    tables, h1 = parse_markdown(text_md)
    done, skipped = [], []
    for n, t in enumerate(tables, 1):
        try:
            panels, reason = plan_table(t)
            panels = [p for p in (panels or [])
                      if p.categories and any(v is not None for _, vs in p.series for v in vs)]
            if not panels:
                skipped.append((n, reason or "nothing to plot"))
                continue
            sub = "%s, table %d" % (name, n)
            if t.heading and t.heading != h1:
                sub += ": " + t.heading.split(": ", 1)[-1]
            elif t.caption.endswith(":"):
                sub += ": " + t.caption.rstrip(":")
            done.append((n, render_svg(h1 or name, sub, panels)))
        except Exception as e:  # a table it cannot read must not stop the others
            skipped.append((n, "%s: %s" % (type(e).__name__, e)))
    return done, skipped


def plot_file(path):
    """Writes the charts of one results file; returns the paths written."""
    with open(path, encoding="utf-8", errors="replace") as f:
        md = f.read()
    stem = os.path.splitext(path)[0]
    done, skipped = charts(md, os.path.basename(path))
    written = []
    for n, svg in done:
        out = "%s-%d.svg" % (stem, n)
        with open(out, "w", encoding="utf-8") as f:
            f.write(svg)
        written.append(out)
    for n, reason in skipped:
        sys.stderr.write("plot.py: %s table %d skipped (%s)\n" % (path, n, reason))
    return written


def main(argv=None):
    ap = argparse.ArgumentParser(description="SVG charts of bench/results/*.md tables.")
    ap.add_argument("files", nargs="*", help="results files (Markdown)")
    ap.add_argument("--all", action="store_true", help="every bench/results/*.md")
    args = ap.parse_args(argv)
    files = list(args.files)
    if args.all:
        files += sorted(glob.glob(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                               "results", "*.md")))
    if not files:
        ap.error("no results file given (or --all)")
    rc = 0
    for path in files:
        try:
            for out in plot_file(path):
                print(os.path.relpath(out) if not os.path.isabs(path) else out)
        except OSError as e:
            sys.stderr.write("plot.py: %s: %s\n" % (path, e))
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
