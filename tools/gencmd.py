#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""gencmd.py: generates src/ops/cmdtab_gen.c, the static command table, from
Redis 7.0's JSON command specification (one file per command or subcommand).

    tools/gencmd.py SPEC_DIR [OUT]      (OUT defaults to src/ops/cmdtab_gen.c)

What it computes the way Redis 7.0 does at start-up, so that the C side only
reads constants:
  - the implicit ACL categories (setImplicitACLCategories): @write, @read,
    @admin + @dangerous, @pubsub, @fast, @blocking, else @slow;
  - the legacy (first, last, step) range and CMD_MOVABLE_KEYS
    (populateCommandLegacyRangeSpec);
  - argument names lower case, tokens upper case, tips lower case, key spec
    flags in Redis's order, strings read as Redis's generator pastes them
    into C.

The output is deterministic: commands and subcommands sorted by name, every
other list in the order of the JSON. Python 3 standard library only.
"""

import glob
import json
import os
import re
import sys

# Redis's ACL categories, in the order of its ACLCommandCategories table; the
# index is the bit in cmd_spec.acl (must match cmdtab_acl_names in cmdtab.c).
ACL_CATEGORIES = [
    "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string",
    "bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow",
    "blocking", "dangerous", "connection", "transaction", "scripting",
]

COMMAND_FLAGS = [
    "WRITE", "READONLY", "DENYOOM", "MODULE", "ADMIN", "PUBSUB", "NOSCRIPT",
    "BLOCKING", "LOADING", "STALE", "SKIP_MONITOR", "SKIP_SLOWLOG", "ASKING",
    "FAST", "NO_AUTH", "MAY_REPLICATE", "SENTINEL", "ONLY_SENTINEL",
    "NO_MANDATORY_KEYS", "PROTECTED", "NO_ASYNC_LOADING", "NO_MULTI",
    "MOVABLE_KEYS", "ALLOW_BUSY", "TOUCHES_ARBITRARY_KEYS",
]

# Key spec flags in the order COMMAND INFO lists them.
KEY_FLAGS = [
    "RO", "RW", "OW", "RM", "ACCESS", "UPDATE", "INSERT", "DELETE", "NOT_KEY",
    "INCOMPLETE", "VARIABLE_FLAGS",
]

ARG_TYPES = {"key", "string", "integer", "double", "pattern", "unix-time",
             "pure-token", "oneof", "block"}

# Redis's native getkeys_proc functions, mapped to the CMD_GETKEYS_* way of
# emulating them (see cmdtab_get_keys).
GETKEYS = {
    "setGetKeys": "CMD_GETKEYS_KEY1",
    "bitfieldGetKeys": "CMD_GETKEYS_KEY1",
    "evalGetKeys": "CMD_GETKEYS_NUMKEYS2",
    "functionGetKeys": "CMD_GETKEYS_NUMKEYS2",
    "blmpopGetKeys": "CMD_GETKEYS_NUMKEYS2",
    "lmpopGetKeys": "CMD_GETKEYS_NUMKEYS1",
    "zmpopGetKeys": "CMD_GETKEYS_NUMKEYS1",
    "sintercardGetKeys": "CMD_GETKEYS_NUMKEYS1",
    "zunionInterDiffGetKeys": "CMD_GETKEYS_NUMKEYS1",
    "zunionInterDiffStoreGetKeys": "CMD_GETKEYS_NUMKEYS_STORE",
    "sortGetKeys": "CMD_GETKEYS_SORT",
    "sortROGetKeys": "CMD_GETKEYS_SORT_RO",
    "migrateGetKeys": "CMD_GETKEYS_MIGRATE",
    "georadiusGetKeys": "CMD_GETKEYS_GEORADIUS",
    "xreadGetKeys": "CMD_GETKEYS_XREAD",
}

GROUPS = {"sorted_set": "sorted-set"}



def fail(msg):
    sys.stderr.write("gencmd.py: %s\n" % msg)
    sys.exit(1)


def redis_value(s):
    """The string Redis ends up with for s: its generator pastes JSON strings
    between double quotes into C source unescaped, so s reads as the inside
    of a C string literal (MIGRATE's token '""' becomes the empty string)."""
    if '"' not in s and "\\" not in s:
        return s
    out, inside, i, src = [], True, 0, s + '"'
    escapes = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "?": "?"}
    while i < len(src):
        ch = src[i]
        if inside and ch == "\\":
            if i + 1 >= len(src) or src[i + 1] not in escapes:
                fail("unsupported escape in %r" % s)
            out.append(escapes[src[i + 1]])
            i += 2
            continue
        if ch == '"':
            inside = not inside
        elif inside:
            out.append(ch)
        elif not ch.isspace():
            fail("cannot read %r as Redis's generator does" % s)
        i += 1
    if inside:
        fail("unbalanced quotes in %r" % s)
    return "".join(out)


def c_str(s):
    """A C string literal for the value Redis gives s (None -> NULL),
    escaped byte by byte."""
    if s is None:
        return "NULL"
    s = redis_value(s)
    out = []
    for b in s.encode("utf-8"):
        ch = chr(b)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "?":
            out.append("\\?")  # no accidental trigraphs
        elif 0x20 <= b < 0x7f:
            out.append(ch)
        else:
            out.append("\\%03o" % b)
    return '"' + "".join(out) + '"'


def ident(fullname):
    return "cmd_" + re.sub(r"[^a-z0-9]", "_", fullname)


def flag_expr(names, prefix):
    if not names:
        return "0"
    return " | ".join(prefix + n for n in names)


class Cmd:
    def __init__(self, name, desc, path):
        self.path = path
        self.desc = desc
        self.name = name.lower()
        self.container = desc.get("container")
        if self.container is not None:
            self.container = self.container.lower()
            self.fullname = self.container + "|" + self.name
        else:
            self.fullname = self.name
        self.subcmds = []
        for k in ("summary", "group", "since", "arity"):
            if k not in desc:
                fail("%s: no %s" % (path, k))
        for f in desc.get("command_flags", []):
            if f not in COMMAND_FLAGS or f == "MOVABLE_KEYS":
                fail("%s: unknown command flag %s" % (path, f))
        gk = desc.get("get_keys_function")
        if gk is not None and gk not in GETKEYS:
            fail("%s: unknown get_keys_function %s" % (path, gk))
        self.getkeys = GETKEYS[gk] if gk else "CMD_GETKEYS_NONE"
        self.flags = list(desc.get("command_flags", []))
        self.acl = self.compute_acl()
        self.first, self.last, self.step, movable = self.legacy_range()
        if movable:
            self.flags.append("MOVABLE_KEYS")
        self.flags.sort(key=COMMAND_FLAGS.index)

    def compute_acl(self):
        acl = set()
        for a in self.desc.get("acl_categories", []):
            a = a.lower()
            if a not in ACL_CATEGORIES:
                fail("%s: unknown ACL category %s" % (self.path, a))
            acl.add(a)
        flags = set(self.flags)
        if "WRITE" in flags:
            acl.add("write")
        if "READONLY" in flags and "scripting" not in acl:
            acl.add("read")
        if "ADMIN" in flags:
            acl.update(("admin", "dangerous"))
        if "PUBSUB" in flags:
            acl.add("pubsub")
        if "FAST" in flags:
            acl.add("fast")
        if "BLOCKING" in flags:
            acl.add("blocking")
        if "fast" not in acl:
            acl.add("slow")
        return sorted(acl, key=ACL_CATEGORIES.index)

    def legacy_range(self):
        """populateCommandLegacyRangeSpec of Redis 7.0: returns (first, last,
        step, movable) as COMMAND INFO shows them (last absolute or < 0)."""
        specs = self.desc.get("key_specs", [])
        if not specs:
            return 0, 0, 0, False

        def is_range(ks):
            return "index" in ks["begin_search"] and "range" in ks["find_keys"]

        def shown(pos, lastkey, step):
            return pos, (lastkey + pos if lastkey >= 0 else lastkey), step

        if len(specs) == 1 and is_range(specs[0]):
            ks = specs[0]
            rng = ks["find_keys"]["range"]
            f, l, s = shown(ks["begin_search"]["index"]["pos"], rng["lastkey"], rng["step"])
            return f, l, s, "INCOMPLETE" in ks["flags"]

        movable = False
        first, last, prev_last = 1 << 31, 0, 0
        u32 = lambda v: v & 0xFFFFFFFF
        s32 = lambda v: v - (1 << 32) if v >= 1 << 31 else v
        for ks in specs:
            if not is_range(ks):
                movable = True
                continue
            pos = ks["begin_search"]["index"]["pos"]
            rng = ks["find_keys"]["range"]
            if rng["step"] != 1 or (prev_last and prev_last != pos - 1):
                movable = True
                continue
            if "INCOMPLETE" in ks["flags"]:
                movable = True
            first = min(first, pos)
            abs_last = rng["lastkey"]
            if abs_last >= 0:
                abs_last += pos
            # Redis compares as unsigned so that a negative lastkey wins.
            last = s32(max(u32(last), u32(abs_last)))
            prev_last = last
        if first == 1 << 31:
            return 0, 0, 0, True
        return first, last, 1, movable


def load(spec_dir):
    files = sorted(glob.glob(os.path.join(spec_dir, "*.json")))
    if not files:
        fail("no JSON files in %s" % spec_dir)
    cmds = []
    for path in files:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        if len(doc) != 1:
            fail("%s: expected one command" % path)
        (name, desc), = doc.items()
        cmds.append(Cmd(name, desc, os.path.basename(path)))
    top = {c.name: c for c in cmds if c.container is None}
    if len(top) != sum(1 for c in cmds if c.container is None):
        fail("duplicate command names")
    for c in cmds:
        if c.container is not None:
            if c.container not in top:
                fail("%s: unknown container %s" % (c.path, c.container))
            top[c.container].subcmds.append(c)
    idents = set()
    for c in cmds:
        if ident(c.fullname) in idents:
            fail("identifier clash for %s" % c.fullname)
        idents.add(ident(c.fullname))
    for c in top.values():
        c.subcmds.sort(key=lambda s: s.name)
    return [top[n] for n in sorted(top)]


class Writer:
    def __init__(self):
        self.lines = []

    def w(self, s=""):
        self.lines.append(s)

    def emit_args(self, base, args, path):
        """Emits the sub-arrays first (post-order), then base[]."""
        fields = []
        for i, a in enumerate(args):
            for k in a:
                if k not in ("name", "type", "token", "optional", "multiple", "multiple_token",
                             "since", "deprecated_since", "key_spec_index", "arguments"):
                    fail("%s: unknown argument field %s" % (path, k))
            if a["type"] not in ARG_TYPES:
                fail("%s: unknown argument type %s" % (path, a["type"]))
            sub, nsub = "NULL", 0
            if a["type"] in ("oneof", "block"):
                subargs = a.get("arguments", [])
                if subargs:
                    sub = "%s_%d" % (base, i)
                    nsub = len(subargs)
                    self.emit_args(sub, subargs, path)
            elif "arguments" in a:
                fail("%s: arguments under a %s argument" % (path, a["type"]))
            token = a.get("token")
            # Redis's generator lower-cases argument names ("ID" -> "id").
            f = [".name = %s" % c_str(a["name"].lower()), ".type = %s" % c_str(a["type"])]
            if token:
                f.append(".token = %s" % c_str(token.upper()))
            for k in ("since", "deprecated_since"):
                if a.get(k):
                    f.append(".%s = %s" % (k, c_str(a[k])))
            f.append(".key_spec_index = %d" % a.get("key_spec_index", -1))
            for k in ("optional", "multiple", "multiple_token"):
                if a.get(k):
                    f.append(".%s = true" % k)
            if nsub:
                f.append(".args = %s, .nargs = %d" % (sub, nsub))
            fields.append("    { " + ", ".join(f) + " },")
        self.w("static const struct cmd_arg %s[] = {" % base)
        for f in fields:
            self.w(f)
        self.w("};")

    def emit_keyspecs(self, base, c):
        self.w("static const struct cmd_keyspec %s[] = {" % base)
        for ks in c.desc["key_specs"]:
            for f in ks["flags"]:
                if f not in KEY_FLAGS:
                    fail("%s: unknown key spec flag %s" % (c.path, f))
            flags = sorted(ks["flags"], key=KEY_FLAGS.index)
            if len(flags) > 5:
                fail("%s: too many key spec flags" % c.path)
            bs, fk = ks["begin_search"], ks["find_keys"]
            parts = ["    { .flags = { %s }," % ", ".join([c_str(f) for f in flags] + ["NULL"]),
                     "      .flagbits = %s," % flag_expr(flags, "CMD_KEY_")]
            if ks.get("notes"):
                parts.append("      .notes = %s," % c_str(ks["notes"]))
            if "index" in bs:
                parts.append("      .bs_type = CMD_BS_INDEX, .bs_index = %d," % bs["index"]["pos"])
            elif "keyword" in bs:
                parts.append("      .bs_type = CMD_BS_KEYWORD, .bs_keyword = %s, .bs_startfrom = %d,"
                             % (c_str(bs["keyword"]["keyword"]), bs["keyword"]["startfrom"]))
            elif "unknown" in bs:
                parts.append("      .bs_type = CMD_BS_UNKNOWN,")
            else:
                fail("%s: unknown begin_search" % c.path)
            if "range" in fk:
                r = fk["range"]
                parts.append("      .fk_type = CMD_FK_RANGE, .fk_lastkey = %d, .fk_step = %d, "
                             ".fk_limit = %d }," % (r["lastkey"], r["step"], r["limit"]))
            elif "keynum" in fk:
                k = fk["keynum"]
                parts.append("      .fk_type = CMD_FK_KEYNUM, .fk_keynumidx = %d, .fk_firstkey = %d, "
                             ".fk_keystep = %d }," % (k["keynumidx"], k["firstkey"], k["step"]))
            elif "unknown" in fk:
                parts.append("      .fk_type = CMD_FK_UNKNOWN },")
            else:
                fail("%s: unknown find_keys" % c.path)
            self.w("\n".join(parts))
        self.w("};")

    def emit_data(self, c):
        """Everything a cmd_spec points to, named after the command."""
        base = ident(c.fullname)
        d = c.desc
        if any(d.get(k) for k in ("history", "command_tips", "key_specs", "arguments")):
            self.w("/* %s */" % c.fullname)
            if d.get("history"):
                self.w("static const char *%s_history[][2] = {" % base)
                for ver, text in d["history"]:
                    self.w("    { %s, %s }," % (c_str(ver), c_str(text)))
                self.w("};")
            if d.get("command_tips"):
                self.w("static const char *%s_tips[] = {" % base)
                for t in d["command_tips"]:
                    self.w("    %s," % c_str(t.lower()))
                self.w("};")
            if d.get("key_specs"):
                self.emit_keyspecs(base + "_keyspecs", c)
            if d.get("arguments"):
                self.emit_args(base + "_args", d["arguments"], c.path)
            self.w()
        if c.subcmds:
            for s in c.subcmds:
                self.emit_data(s)
            self.w("static struct cmd_spec %s_subcmds[] = {" % base)
            for s in c.subcmds:
                self.emit_spec(s)
            self.w("};")
            self.w()

    def emit_spec(self, c):
        """One cmd_spec initializer; fields left out are zero/NULL."""
        base = ident(c.fullname)
        d = c.desc
        doc_flags = [f.lower() for f in d.get("doc_flags", [])]
        if len(doc_flags) > 3:
            fail("%s: too many doc flags" % c.path)
        w = self.w
        w("    {")
        w("        .name = %s, .fullname = %s," % (c_str(c.name), c_str(c.fullname)))
        w("        .arity = %d, .flags = %s," % (d["arity"], flag_expr(c.flags, "CMD_")))
        w("        .acl = %s," % flag_expr([a.upper() for a in c.acl], "CMDTAB_ACL_"))
        if c.first or c.last or c.step:
            w("        .first_key = %d, .last_key = %d, .key_step = %d,"
              % (c.first, c.last, c.step))
        w("        .group = %s, .since = %s,"
          % (c_str(GROUPS.get(d["group"], d["group"])), c_str(d["since"])))
        if d.get("complexity"):
            w("        .complexity = %s," % c_str(d["complexity"]))
        w("        .summary = %s," % c_str(d["summary"]))
        if doc_flags:
            w("        .doc_flags = { %s }," % ", ".join([c_str(f) for f in doc_flags] + ["NULL"]))
        for k in ("deprecated_since", "replaced_by"):
            if d.get(k):
                w("        .%s = %s," % (k, c_str(d[k])))
        lists = [("history", "nhistory", len(d.get("history", []))),
                 ("tips", "ntips", len(d.get("command_tips", []))),
                 ("keyspecs", "nkeyspecs", len(d.get("key_specs", []))),
                 ("args", "nargs", len(d.get("arguments", []))),
                 ("subcmds", "nsubcmds", len(c.subcmds))]
        for field, nfield, n in lists:
            if n:
                w("        .%s = %s_%s, .%s = %d," % (field, base, field, nfield, n))
        if c.getkeys != "CMD_GETKEYS_NONE":
            w("        .getkeys = %s," % c.getkeys)
        w("    },")


def generate(cmds):
    wr = Writer()
    wr.w("/* SPDX-License-Identifier: BSD-3-Clause */")
    wr.w("/*")
    wr.w(" * cmdtab_gen.c: the command table, GENERATED by tools/gencmd.py from Redis 7.0's")
    wr.w(" * JSON command specification. Do not edit: change the generator and rerun it.")
    wr.w(" *")
    wr.w(" * Commands are sorted by name, subcommands by name inside their container.")
    wr.w(" * Implicit ACL categories, the legacy key range and CMD_MOVABLE_KEYS are")
    wr.w(" * already computed as Redis computes them at start-up. cmdtab_init (cmdtab.c)")
    wr.w(" * sets the parent pointers and builds the lookup index; cmdtab_bind fills")
    wr.w(" * proc/route/visible. Nothing else writes to this data.")
    wr.w(" */")
    wr.w("/* clang-format off */")
    wr.w('#include "shardis/cmdtab_internal.h"')
    wr.w()
    for c in cmds:
        wr.emit_data(c)
    wr.w("struct cmd_spec cmdtab_commands[] = {")
    for c in cmds:
        wr.emit_spec(c)
    wr.w("};")
    wr.w()
    wr.w("const int cmdtab_ncommands = %d;" % len(cmds))
    wr.w("/* clang-format on */")
    return "\n".join(wr.lines) + "\n"


def main(argv):
    if len(argv) not in (2, 3):
        sys.stderr.write("usage: %s SPEC_DIR [OUT]\n" % argv[0])
        return 2
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = argv[2] if len(argv) == 3 else os.path.join(root, "src", "ops", "cmdtab_gen.c")
    text = generate(load(argv[1]))
    tmp = out + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
