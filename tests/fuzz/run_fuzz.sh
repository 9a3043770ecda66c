#!/usr/bin/env bash
# Builds a fuzz target with clang's libFuzzer (+ASan/UBSan) and runs it for a
# bounded time. Exits 77 (a CTest skip) when clang or its fuzzer runtime is
# missing.
#   tests/fuzz/run_fuzz.sh [seconds] [workdir] [target]
# target: resp (the RESP parser, the default) or dispatch (the command table
# and handlers over a one-shard keyspace, tests/fuzz/fuzz_dispatch.c) or hll
# (the HyperLogLog decoders on arbitrary bytes, tests/fuzz/fuzz_hll.c) or rdb
# (RESTORE's payload decoder, tests/fuzz/fuzz_rdb.c).
# Extra libFuzzer flags may be given in $FUZZ_FLAGS.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SECS=${1:-20}
WORK=${2:-$(mktemp -d "${TMPDIR:-/tmp}/shardis-fuzz.XXXXXX")}
TARGET=${3:-resp}
command -v clang >/dev/null || { echo "clang not found: skipping"; exit 77; }
# shellcheck disable=SC2207 # pkg-config's words are meant to split
LUA_CFLAGS=($(pkg-config --cflags lua5.1))
# shellcheck disable=SC2207
LUA_LIBS=($(pkg-config --libs lua5.1))
CFLAGS=(-g -O1 -std=c17 -D_GNU_SOURCE "${LUA_CFLAGS[@]}" -DSHARDIS_VERSION='"fuzz"'
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I"$ROOT/include")

# Writes one seed: a RESP array of the given arguments.
seed() {
    local f=$1 a
    shift
    { printf '*%d\r\n' "$#"; for a in "$@"; do printf '$%d\r\n%s\r\n' "${#a}" "$a"; done; } >>"$f"
}

# A target over shards/ alone (libc malloc, no jemalloc): its SRCS, LIBS ...
shards_target() {
    SRCS=("$ROOT/tests/fuzz/fuzz_$1.c")
    for f in "$ROOT"/shards/*.c; do
        [ "$(basename "$f")" = sh_alloc_jemalloc.c ] || SRCS+=("$f")
    done
    LIBS=(-lxxhash -lm -lpthread)
    MAXLEN=4096
    DICT=()
}

case "$TARGET" in
resp)
    mkdir -p "$WORK/corpus"
    CORPUS=$WORK/corpus
    printf '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n' >"$CORPUS/set"
    printf 'PING\r\nSET "a b" '"'"'c'"'"'\r\n' >"$CORPUS/inline"
    printf '*1\r\n$-1\r\n*0\r\n' >"$CORPUS/odd"
    SRCS=("$ROOT/tests/fuzz/fuzz_resp.c" "$ROOT/src/proto/resp.c" "$ROOT/shards/util.c"
          "$ROOT/shards/sh.c" "$ROOT/shards/sh_alloc_libc.c")
    LIBS=()
    MAXLEN=4096
    DICT=()
    ;;
dispatch)
    mkdir -p "$WORK/corpus_dispatch"
    CORPUS=$WORK/corpus_dispatch
    # byte 0: bit 0 RESP3, bit 1 (+ bits 4-7) database, bit 2 notifications
    for f in string keys server pubsub values; do printf '\x00' >"$CORPUS/$f"; done
    printf '\x07' >"$CORPUS/resp3"
    S=$CORPUS/string
    seed "$S" SET k v; seed "$S" GET k; seed "$S" SET n 10 EX 100 NX; seed "$S" INCR n
    seed "$S" INCRBY n -5; seed "$S" DECR n; seed "$S" DECRBY n 3; seed "$S" INCRBYFLOAT n 1.5
    seed "$S" APPEND k tail; seed "$S" STRLEN k; seed "$S" SETRANGE k 3 xyz
    seed "$S" GETRANGE k 1 -2; seed "$S" SUBSTR k 0 2; seed "$S" MSET a 1 b 2
    seed "$S" MGET a b c; seed "$S" MSETNX c 3 d 4; seed "$S" GETSET k w; seed "$S" GETDEL a
    seed "$S" GETEX b PX 50; seed "$S" SETNX e 5; seed "$S" SETEX f 10 x
    seed "$S" PSETEX g 100 y; seed "$S" SET k v KEEPTTL GET; seed "$S" LCS k b
    B=$CORPUS/values
    seed "$B" SETBIT bm 77 1; seed "$B" BITCOUNT bm 0 -1 BIT; seed "$B" BITPOS bm 1 0 -1 BYTE
    seed "$B" BITFIELD bm SET i17 '#3' -100 OVERFLOW SAT INCRBY u5 9 40 GET u63 1
    seed "$B" BITFIELD_RO bm GET i64 0; seed "$B" BITOP XOR d bm k
    seed "$B" PFADD h a b c; seed "$B" PFCOUNT h; seed "$B" PFMERGE h2 h; seed "$B" PFDEBUG GETREG h
    seed "$B" GEOADD g 13.361389 38.115556 p 15.087269 37.502669 c
    seed "$B" GEOSEARCH g FROMMEMBER p BYRADIUS 200 km ASC WITHDIST WITHCOORD COUNT 1 ANY
    seed "$B" GEORADIUS g 15 37 300 km STORE g2; seed "$B" GEODIST g p c mi; seed "$B" GEOHASH g p
    K=$CORPUS/keys
    seed "$K" SET a 1; seed "$K" SET b 2; seed "$K" EXPIRE a 100; seed "$K" TTL a
    seed "$K" PEXPIRE b 5 NX; seed "$K" PTTL b; seed "$K" EXPIREAT a 1800000000 GT
    seed "$K" PEXPIREAT a 1800000000000; seed "$K" EXPIRETIME a; seed "$K" PEXPIRETIME a
    seed "$K" PERSIST a; seed "$K" TYPE a; seed "$K" RENAME a c; seed "$K" RENAMENX c b
    seed "$K" COPY c d REPLACE; seed "$K" COPY c e DB 3; seed "$K" EXISTS a b c d
    seed "$K" TOUCH c; seed "$K" SCAN 0 MATCH '*' COUNT 10 TYPE string; seed "$K" KEYS '?'
    seed "$K" RANDOMKEY; seed "$K" DBSIZE; seed "$K" DEL c d; seed "$K" UNLINK b
    seed "$K" FLUSHDB; seed "$K" FLUSHALL ASYNC
    V=$CORPUS/server
    seed "$V" HELLO 3; seed "$V" CLIENT ID; seed "$V" CLIENT LIST; seed "$V" CONFIG GET '*'
    seed "$V" CONFIG SET hz 20; seed "$V" INFO; seed "$V" COMMAND COUNT; seed "$V" PING
    seed "$V" ECHO x; seed "$V" SELECT 2; seed "$V" TIME
    seed "$V" MULTI; seed "$V" SET k v; seed "$V" EXEC; seed "$V" WATCH k; seed "$V" UNWATCH
    seed "$V" DISCARD; seed "$V" EVAL "return redis.call('set', KEYS[1], ARGV[1])" 1 k v
    seed "$V" EVAL "return redis.call('get', 'x')" 0; seed "$V" SCRIPT LOAD "return 1"
    P=$CORPUS/pubsub
    seed "$P" SUBSCRIBE ch; seed "$P" PSUBSCRIBE 'c*'; seed "$P" PUBLISH ch hi
    seed "$P" SPUBLISH ch hi; seed "$P" PUBSUB CHANNELS; seed "$P" PUBSUB NUMSUB ch
    seed "$P" PUBSUB SHARDCHANNELS; seed "$P" PUBSUB NUMPAT
    seed "$CORPUS/resp3" SET k v EX 1; seed "$CORPUS/resp3" GET k; seed "$CORPUS/resp3" GET zz
    seed "$CORPUS/resp3" SCAN 0; seed "$CORPUS/resp3" MGET k zz
    SRCS=("$ROOT/tests/fuzz/fuzz_dispatch.c")
    for f in "$ROOT"/src/*/*.c "$ROOT"/shards/*.c; do
        case "$(basename "$f")" in
        main.c | sh_alloc_jemalloc.c) ;;
        *) SRCS+=("$f") ;;
        esac
    done
    LIBS=(-luring -lxxhash -lpthread -lm -l:liblua5.1-cjson.a -l:liblua5.1-bitop.a
          "${LUA_LIBS[@]}")
    MAXLEN=2048
    DICT=(-dict="$ROOT/tests/fuzz/dispatch.dict")
    ;;
hll)
    # the HyperLogLog decoders (shards/hll.c) on arbitrary bytes
    mkdir -p "$WORK/corpus_hll"
    CORPUS=$WORK/corpus_hll
    printf '\x00\x7f\xff' >"$CORPUS/empty"
    printf '\x00\x60\xf3\x80\x50\xb1\x84\x4b\xfb\x80\x42\x5a' >"$CORPUS/abc"
    printf '\x01HYLL\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x40\xfe\x7f' >"$CORPUS/cut"
    printf '\x02\x41\x10\x04' >"$CORPUS/dense"
    shards_target hll
    ;;
rdb)
    # RESTORE's decoder (shards/rdb.c): byte 0 is the shape (fuzz_rdb.c),
    # then a type byte and a payload; seeds are Redis 7.0 DUMP payloads
    # without their footer, and hand-made older forms
    mkdir -p "$WORK/corpus_rdb"
    CORPUS=$WORK/corpus_rdb
    printf '\x00\x00\xc3\x0b\x3c\x03\x61\x62\x63\x61\xe0\x2d\x02\x01\x62\x63' >"$CORPUS/lzf"
    printf '\x00\x12\x01\x02\x1c\x1c\x00\x00\x00\x04\x00\x81\x61\x02\x01\x01\xde\xd4\x02\x8b\x68\x65\x6c\x6c\x6f\x20\x77\x6f\x72\x6c\x64\x0c\xff' >"$CORPUS/list"
    printf '\x02\x0b\x14\x04\x00\x00\x00\x03\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x70\x11\x01\x00' >"$CORPUS/intset"
    printf '\x00\x02\x02\x01\x79\x01\x78' >"$CORPUS/set"
    printf '\x00\x11\x1c\x1c\x00\x00\x00\x06\x00\x81\x62\x02\x83\x30\x2e\x35\x04\x81\x61\x02\x01\x01\x81\x63\x02\x83\x69\x6e\x66\x04\xff' >"$CORPUS/zlp"
    printf '\x00\x05\x02\x01\x62\x00\x00\x00\x00\x00\x00\x00\x40\xc3\x09\x40\x46\x01\x61\x61\xe0\x39\x00\x01\x61\x61\x00\x00\x00\x00\x00\x00\xf0\x3f' >"$CORPUS/zset2"
    printf '\x02\x10\x12\x12\x00\x00\x00\x04\x00\x81\x66\x02\x81\x76\x02\x81\x6e\x02\x0c\x01\xff' >"$CORPUS/hash"
    printf '\x02\x0d\x15\x15\x00\x00\x00\x12\x00\x00\x00\x04\x00\x00\x01\x66\x03\x01\x76\x03\xf2\x02\xf3\xff' >"$CORPUS/zlhash"
    printf '\x00\x09\x0c\x02\x01\x66\x01\x00\x76\x01\x67\x01\x00\x77\xff' >"$CORPUS/zipmap"
    printf '\x00\x03\x02\x01\x61\x03\x31\x2e\x35\x01\x62\xfe' >"$CORPUS/zset"
    printf '\x00\x12\x02\x01\x05\x70\x6c\x61\x69\x6e\x02\x07\x07\x00\x00\x00\x00\x00\xff' >"$CORPUS/plain"
    # a stream with a deleted entry, a group, a PEL and two consumers (Redis
    # 7.0's DUMP, STREAM_LISTPACKS_2), and an empty stream in the v1 form
    printf '\x00\x13\x01\x10\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x3e\x3e\x00\x00\x00\x18\x00\x02\x01\x01\x01\x01\x01\x81\x66\x02\x00\x01\x02\x01\x00\x01\x00\x01\x81\x76\x02\x04\x01\x01\x01\x01\x01\x01\x01\x02\x01\x81\x66\x02\x81\x77\x02\x81\x67\x02\x07\x01\x08\x01\x02\x01\x02\x01\xdf\xff\x02\x81\x78\x02\x04\x01\xff\x02\x03\x00\x01\x01\x02\x02\x03\x01\x03\x67\x72\x70\x01\x01\x81\xff\xff\xff\xff\xff\xff\xff\xff\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x57\xc2\x01\x4b\xa2\x01\x00\x00\x01\x02\x05\x61\x6c\x69\x63\x65\x57\xc2\x01\x4b\xa2\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x03\x62\x6f\x62\x5c\xc2\x01\x4b\xa2\x01\x00\x00\x00' >"$CORPUS/stream"
    printf '\x00\x0f\x00\x00\x00\x00\x00' >"$CORPUS/stream_v1_empty"
    shards_target rdb
    ;;
*)
    echo "unknown fuzz target '$TARGET'" >&2
    exit 2
    ;;
esac

if ! clang "${CFLAGS[@]}" "${SRCS[@]}" "${LIBS[@]}" -o "$WORK/fuzz_$TARGET" 2>"$WORK/build_$TARGET.log"; then
    if grep -q "libclang_rt.fuzzer\|cannot find" "$WORK/build_$TARGET.log"; then
        echo "clang's fuzzer runtime is missing: skipping"
        exit 77
    fi
    cat "$WORK/build_$TARGET.log"
    exit 1
fi
# shellcheck disable=SC2086
# a crash must fail the test: libFuzzer's own exit code for one is 77,
# which CTest takes for a skip (SKIP_RETURN_CODE)
"$WORK/fuzz_$TARGET" -max_total_time="$SECS" -max_len="$MAXLEN" -rss_limit_mb=4096 \
    -error_exitcode=1 -timeout_exitcode=1 -artifact_prefix="$WORK/" \
    -print_final_stats=1 "${DICT[@]}" ${FUZZ_FLAGS:-} "$CORPUS"
