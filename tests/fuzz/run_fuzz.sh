#!/usr/bin/env bash
# Builds the RESP parser fuzz target with clang's libFuzzer (+ASan/UBSan) and
# runs it for a bounded time. Exits 77 (a CTest skip) when clang or its
# fuzzer runtime is missing.
#   tests/fuzz/run_fuzz.sh [seconds] [workdir]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SECS=${1:-20}
WORK=${2:-$(mktemp -d "${TMPDIR:-/tmp}/shardis-fuzz.XXXXXX")}
command -v clang >/dev/null || { echo "clang not found: skipping"; exit 77; }
mkdir -p "$WORK/corpus"
printf '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n' >"$WORK/corpus/set"
printf 'PING\r\nSET "a b" '"'"'c'"'"'\r\n' >"$WORK/corpus/inline"
printf '*1\r\n$-1\r\n*0\r\n' >"$WORK/corpus/odd"
if ! clang -g -O1 -std=c17 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=all -I"$ROOT/include" \
    "$ROOT/tests/fuzz/fuzz_resp.c" "$ROOT/src/resp.c" "$ROOT/shards/util.c" \
    "$ROOT/shards/sh.c" "$ROOT/shards/sh_alloc_libc.c" -o "$WORK/fuzz_resp" 2>"$WORK/build.log"; then
    if grep -q "libclang_rt.fuzzer\|cannot find" "$WORK/build.log"; then
        echo "clang's fuzzer runtime is missing: skipping"
        exit 77
    fi
    cat "$WORK/build.log"
    exit 1
fi
"$WORK/fuzz_resp" -max_total_time="$SECS" -max_len=4096 -print_final_stats=1 "$WORK/corpus"
