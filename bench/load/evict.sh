#!/usr/bin/env bash
# Eviction side by side: redis-server and shardis (1 shard, then 2) with
# maxmemory 64mb and allkeys-lru take N SETs of 200-byte values over KEYS
# random keys (redis-benchmark -c 50 -P 16; the default N, 3.4M, is 10x the
# limit in values), server on CPU 1 (SERVER_CPUS), client on CPU 0. Prints,
# per server and round: the server's CPU per write (utime+stime from
# /proc/PID/stat over the run), the keys kept, evicted_keys, used_memory and
# used_memory_peak against maxmemory, the RSS, and whether it still answers.
# The LRU hit rate under a Zipf load: bench/load/evict_zipf.py.
#
#   SHARDIS_BIN=build/src/shardis-server ROUNDS=2 bench/load/evict.sh
set -euo pipefail

SHARDIS_BIN=${SHARDIS_BIN:-build/src/shardis-server}
REDIS_BIN=${REDIS_BIN:-redis-server}
ROUNDS=${ROUNDS:-2}
PORT=${PORT:-7780}
N=${N:-3400000}
KEYS=${KEYS:-10000000}
SERVER_CPUS=${SERVER_CPUS:-1}
LIMIT=$((64 * 1024 * 1024))
SHARDIS_BIN=$(readlink -f "$SHARDIS_BIN")

run() {
    local name=$1
    shift
    local d
    d=$(mktemp -d)
    (cd "$d" && exec taskset -c "$SERVER_CPUS" "$@" --port "$PORT" --save "" >"$d/log" 2>&1) &
    local pid=$!
    for _ in $(seq 100); do
        redis-cli -p "$PORT" ping >/dev/null 2>&1 && break
        sleep 0.05
    done
    redis-cli -p "$PORT" config set maxmemory 64mb >/dev/null
    redis-cli -p "$PORT" config set maxmemory-policy allkeys-lru >/dev/null
    local c0 c1
    c0=$(awk '{print $14+$15}' "/proc/$pid/stat")
    taskset -c 0 redis-benchmark -p "$PORT" -t set -n "$N" -r "$KEYS" -d 200 -c 50 -P 16 \
        -q >/dev/null 2>&1
    c1=$(awk '{print $14+$15}' "/proc/$pid/stat")
    local rss keys ev used peak pong
    rss=$(awk '/VmRSS/{print $2}' "/proc/$pid/status")
    keys=$(redis-cli -p "$PORT" dbsize)
    ev=$(redis-cli -p "$PORT" info stats | tr -d '\r' | awk -F: '/^evicted_keys/{print $2}')
    used=$(redis-cli -p "$PORT" info memory | tr -d '\r' | awk -F: '/^used_memory:/{print $2}')
    peak=$(redis-cli -p "$PORT" info memory | tr -d '\r' | awk -F: '/^used_memory_peak:/{print $2}')
    pong=$(redis-cli -p "$PORT" ping)
    printf '%-16s cpu/write %s us  keys %s  evicted %s  used %.3fx  peak %.3fx  rss %s kB  %s\n' \
        "$name" "$(echo "scale=2; ($c1 - $c0) * 1000000 / 100 / $N" | bc)" "$keys" "$ev" \
        "$(echo "scale=4; $used / $LIMIT" | bc)" "$(echo "scale=4; $peak / $LIMIT" | bc)" "$rss" \
        "$pong"
    redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
    wait "$pid" || true
    rm -rf "$d"
}

for _ in $(seq "$ROUNDS"); do
    run redis-server "$REDIS_BIN"
    run "shardis 1 shard" "$SHARDIS_BIN" --shards 1
    run "shardis 2 shards" "$SHARDIS_BIN" --shards 2
done
