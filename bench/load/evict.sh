#!/usr/bin/env bash
# Eviction side by side: redis-server and shardis (1 shard) with maxmemory
# 64mb and allkeys-lru take 500k SETs of 200-byte values over 1M random keys
# (redis-benchmark -c 50 -P 16), server on CPU 1, client on CPU 0. Prints,
# per server and round: the server's CPU per write (utime+stime from
# /proc/PID/stat over the run), the keys kept, evicted_keys and the RSS.
#
#   SHARDIS_BIN=build/src/shardis-server ROUNDS=2 bench/load/evict.sh
set -euo pipefail

SHARDIS_BIN=${SHARDIS_BIN:-build/src/shardis-server}
REDIS_BIN=${REDIS_BIN:-redis-server}
ROUNDS=${ROUNDS:-2}
PORT=${PORT:-7780}
SHARDIS_BIN=$(readlink -f "$SHARDIS_BIN")

run() {
    local name=$1
    shift
    local d
    d=$(mktemp -d)
    (cd "$d" && exec taskset -c 1 "$@" --port "$PORT" --save "" >"$d/log" 2>&1) &
    local pid=$!
    for _ in $(seq 100); do
        redis-cli -p "$PORT" ping >/dev/null 2>&1 && break
        sleep 0.05
    done
    redis-cli -p "$PORT" config set maxmemory 64mb >/dev/null
    redis-cli -p "$PORT" config set maxmemory-policy allkeys-lru >/dev/null
    local c0 c1
    c0=$(awk '{print $14+$15}' "/proc/$pid/stat")
    taskset -c 0 redis-benchmark -p "$PORT" -t set -n 500000 -r 1000000 -d 200 -c 50 -P 16 \
        -q >/dev/null 2>&1
    c1=$(awk '{print $14+$15}' "/proc/$pid/stat")
    local rss keys ev
    rss=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
    keys=$(redis-cli -p "$PORT" dbsize)
    ev=$(redis-cli -p "$PORT" info stats | tr -d '\r' | awk -F: '/^evicted_keys/{print $2}')
    printf '%-16s cpu/write %s us  keys %s  evicted %s  rss %s kB\n' "$name" \
        "$(echo "scale=2; ($c1 - $c0) * 10000 / 500000" | bc)" "$keys" "$ev" "$rss"
    redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
    wait "$pid" || true
    rm -rf "$d"
}

for _ in $(seq "$ROUNDS"); do
    run redis-server "$REDIS_BIN"
    run "shardis 1 shard" "$SHARDIS_BIN" --shards 1
done
