#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""check_layers.py: fails when a file includes a header of a layer above its
own, or when src/ loses its shape (see src/README.md).

    tools/check_layers.py [ROOT]

Layers, lowest first; a file may include headers of its own layer and of the
layers below it:

    shards < proto < ops < core < txn < persist < repl < cmd < main

A .c file's layer is its folder (shards/, src/<layer>/, src/main.c). The
public headers stay flat in include/shardis/; a header's layer is the layer
of the .c file of the same name (X.h or X_internal.h -> X.c). A header with
no such file is an error: give it a home. A header private to one folder
(src/<layer>/X.h) is of that folder's layer.

Also checked: src/ holds only main.c, CMakeLists.txt, README.md and the
layer folders, and no source file is over MAX_LINES lines except the
generated command table.
"""
import os
import re
import sys

LAYERS = ["shards", "proto", "ops", "core", "txn", "persist", "repl", "cmd", "main"]
RANK = {name: i for i, name in enumerate(LAYERS)}
MAX_LINES = 1500
GENERATED = {"src/ops/cmdtab_gen.c"}
SRC_TOP_OK = {"main.c", "CMakeLists.txt", "README.md"}
INCLUDE_RE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def source_files(root):
    for top in ("shards", "src", "include/shardis"):
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            for n in sorted(names):
                if n.endswith((".c", ".h")):
                    yield os.path.relpath(os.path.join(dirpath, n), root)


def folder_layer(rel):
    """The layer of a file by where it lives (None for public headers)."""
    parts = rel.split(os.sep)
    if parts[0] == "shards":
        return "shards"
    if parts[0] == "src":
        if len(parts) == 2:
            return "main"
        return parts[1] if parts[1] in RANK else None
    return None


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), ".."))
    errors = []
    files = list(source_files(root))

    # where each .c lives, by base name
    home = {}
    for rel in files:
        if rel.endswith(".c"):
            layer = folder_layer(rel)
            base = os.path.basename(rel)[:-2]
            if base in home and layer and home[base] != layer:
                errors.append(f"{rel}: another {base}.c lives in {home[base]}/")
            if layer:
                home[base] = layer

    def header_layer(name):
        base = name[:-2]
        for cand in (base, base[:-len("_internal")] if base.endswith("_internal") else None):
            if cand and cand in home:
                return home[cand]
        return None

    public = {}
    for rel in files:
        if rel.startswith("include/shardis/") and rel.endswith(".h"):
            name = os.path.basename(rel)
            layer = header_layer(name)
            if layer is None:
                errors.append(f"{rel}: no {name[:-2]}.c anywhere, so no layer: give it a home")
            public[name] = layer

    for rel in files:
        if rel in public or rel.startswith("include/shardis/"):
            layer = public.get(os.path.basename(rel))
        else:
            layer = folder_layer(rel)
            if layer is None:
                errors.append(f"{rel}: not in a layer folder ({', '.join(LAYERS[1:-1])})")
                continue
        if layer is None:
            continue
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            text = f.read()
        for m in INCLUDE_RE.finditer(text):
            inc = m.group(1)
            line = text.count("\n", 0, m.start()) + 1
            if inc.startswith("shardis/"):
                name = inc[len("shardis/"):]
                if "/" in name or name not in public:
                    errors.append(f"{rel}:{line}: includes {inc}, which is not a public header")
                    continue
                target = public[name]
            elif "/" in inc:
                errors.append(f"{rel}:{line}: includes {inc}: only same-folder private headers "
                              "may be named without shardis/")
                continue
            else:
                target = layer  # a private header of the same folder
                if not os.path.exists(os.path.join(root, os.path.dirname(rel), inc)):
                    errors.append(f"{rel}:{line}: includes {inc}, not in its folder")
                    continue
            if target and RANK[target] > RANK[layer]:
                errors.append(f"{rel}:{line}: {layer}/ includes {inc} of {target}/ (a layer above)")

    # the shape of src/
    for n in sorted(os.listdir(os.path.join(root, "src"))):
        p = os.path.join(root, "src", n)
        if os.path.isdir(p):
            if n not in RANK or n in ("shards", "main"):
                errors.append(f"src/{n}/: not a layer folder")
        elif n not in SRC_TOP_OK:
            errors.append(f"src/{n}: src/ holds only main.c and the layer folders")
    for rel in files:
        if rel in GENERATED:
            continue
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            n = sum(1 for _ in f)
        if n > MAX_LINES:
            errors.append(f"{rel}: {n} lines, over {MAX_LINES}: split it")

    for e in errors:
        print(f"check_layers: {e}", file=sys.stderr)
    if errors:
        print(f"check_layers: {len(errors)} problem(s)", file=sys.stderr)
        return 1
    print(f"check_layers: {len(files)} files, layers respected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
