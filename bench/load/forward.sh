#!/usr/bin/env bash
# The cost of forwarding: shardis with 1 shard (CPU 1) against 2 shards
# (on CPUs 0-1, and both on CPU 1), redis-benchmark -t set,get -n 200000
# -r 100000 -c 50 -P <depth> on CPU 0. Prints the server's CPU per request
# (utime+stime of the whole process over the run) and its context switches
# per request (every thread's voluntary and involuntary ones).
#
#   SHARDIS_BIN=build/src/shardis-server bench/load/forward.sh 1
#   SHARDIS_BIN=build/src/shardis-server bench/load/forward.sh 16
set -euo pipefail

DEPTH=${1:-1}
SHARDIS_BIN=$(readlink -f "${SHARDIS_BIN:-build/src/shardis-server}")
PORT=${PORT:-7770}
N=200000

switches() {
    cat /proc/"$1"/task/*/status | awk '/ctxt_switches/ {s += $2} END {print s}'
}

run() {
    local name=$1 cpus=$2
    shift 2
    local d pid c0 c1 s0 s1
    d=$(mktemp -d)
    (cd "$d" && exec taskset -c "$cpus" "$SHARDIS_BIN" "$@" --port "$PORT" --save "" \
        >"$d/log" 2>&1) &
    pid=$!
    for _ in $(seq 100); do
        redis-cli -p "$PORT" ping >/dev/null 2>&1 && break
        sleep 0.05
    done
    c0=$(awk '{print $14+$15}' "/proc/$pid/stat")
    s0=$(switches "$pid")
    taskset -c 0 redis-benchmark -p "$PORT" -t set,get -n "$N" -r 100000 -c 50 -P "$DEPTH" \
        -q >/dev/null 2>&1
    c1=$(awk '{print $14+$15}' "/proc/$pid/stat")
    s1=$(switches "$pid")
    printf '%-22s -P %-3s cpu/request %s us  context switches/request %s\n' "$name" "$DEPTH" \
        "$(echo "scale=2; ($c1 - $c0) * 10000 / (2 * $N)" | bc)" \
        "$(echo "scale=3; ($s1 - $s0) / (2 * $N)" | bc)"
    redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
    wait "$pid" || true
    rm -rf "$d"
}

run "1 shard (CPU 1)" 1 --shards 1
run "2 shards (CPUs 0-1)" 0-1 --shards 2
run "2 shards (CPU 1)" 1 --shards 2
