#!/usr/bin/env bash
# The cost of forwarding: shardis with 1 shard (CPU 1) against 2 shards
# (on CPUs 0-1, and both on CPU 1), redis-benchmark -t set,get -n N
# -r 100000 -c 50 -P <depth> on CPU 0. For each run: the server's CPU per
# request (utime+stime of the whole process over the run), its context
# switches per request (every thread's voluntary and involuntary ones) and
# the TCP segments sent per request on the machine (nstat TcpOutSegs: both
# directions of loopback, so 2 per request at -P 1 and 2/depth when every
# pipeline's replies leave in one send), and from the server's INFO stats
# (reset before the run; "-" for a binary without them) its loop cycles,
# sleeps in the kernel and wake-up messages between shards per request.
#
# With BASE_BIN set, the same configurations run with that binary too,
# alternating with SHARDIS_BIN, REPEAT times each; the table gives the
# medians (the machine is noisy: compare medians of one run only).
# Writes bench/results/<date>-<commit>-forward.md.
#
#   SHARDIS_BIN=build/src/shardis-server bench/load/forward.sh 1
#   BASE_BIN=/tmp/old-server REPEAT=5 bench/load/forward.sh 16
set -euo pipefail

DEPTH=${1:-1}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHARDIS_BIN=$(readlink -f "${SHARDIS_BIN:-$ROOT/build/src/shardis-server}")
BASE_BIN=${BASE_BIN:+$(readlink -f "$BASE_BIN")}
PORT=${PORT:-7770}
REPEAT=${REPEAT:-3}
N=${N:-$([ "$DEPTH" -gt 1 ] && echo 1000000 || echo 200000)}
RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}
RAW=$(mktemp)
trap 'rm -f "$RAW"' EXIT

switches() {
    cat /proc/"$1"/task/*/status | awk '/ctxt_switches/ {s += $2} END {print s}'
}

segments() {
    nstat -az TcpOutSegs | awk '/TcpOutSegs/ {print $2}'
}

# loop PORT: "cycles waits doorbells" from INFO stats, "-" where missing
loop_stats() {
    redis-cli -p "$1" info stats | tr -d '\r' | awk -F: '
        $1 == "eventloop_cycles" {c = $2} $1 == "io_waits" {w = $2}
        $1 == "mailbox_doorbells" {d = $2}
        END {print (c == "" ? "-" : c), (w == "" ? "-" : w), (d == "" ? "-" : d)}'
}

# pipe_rtt CPUS: one thread round trip through a pipe (two context switches
# and two pipe syscalls each way) in us, perf bench sched pipe pinned to
# CPUS; "-" without perf. What a wake-up costs on this machine, for reading
# the cs/req column.
pipe_rtt() {
    command -v perf >/dev/null 2>&1 || {
        echo -
        return
    }
    taskset -c "$1" perf bench sched pipe -l 20000 2>/dev/null |
        awk '/usecs\/op/ {v = $1} END {if (v == "") print "-"; else printf "%.1f\n", v}'
}

# per N X: X per request, or "-"
per() {
    [ "$2" = - ] && echo - || echo "scale=4; $2 / (2 * $1)" | bc
}

# run LABEL BINARY CONFIG CPUS ARGS...: one line
# "label|config|cpu|cs|segs|cycles|waits|doorbells" in $RAW
run() {
    local label=$1 bin=$2 config=$3 cpus=$4
    shift 4
    local d pid c0 c1 s0 s1 g0 g1 loops
    d=$(mktemp -d)
    (cd "$d" && exec taskset -c "$cpus" "$bin" "$@" --port "$PORT" --save "" \
        >"$d/log" 2>&1) &
    pid=$!
    for _ in $(seq 100); do
        redis-cli -p "$PORT" ping >/dev/null 2>&1 && break
        sleep 0.05
    done
    redis-cli -p "$PORT" config resetstat >/dev/null
    c0=$(awk '{print $14+$15}' "/proc/$pid/stat")
    s0=$(switches "$pid")
    g0=$(segments)
    taskset -c 0 redis-benchmark -p "$PORT" -t set,get -n "$N" -r 100000 -c 50 -P "$DEPTH" \
        -q >/dev/null 2>&1
    c1=$(awk '{print $14+$15}' "/proc/$pid/stat")
    s1=$(switches "$pid")
    g1=$(segments)
    loops=$(loop_stats "$PORT")
    redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
    wait "$pid" || true
    rm -rf "$d"
    local cpu cs segs cyc wai door
    cpu=$(echo "scale=3; ($c1 - $c0) * 10000 / (2 * $N)" | bc)
    cs=$(echo "scale=3; ($s1 - $s0) / (2 * $N)" | bc)
    segs=$(echo "scale=3; ($g1 - $g0) / (2 * $N)" | bc)
    read -r cyc wai door <<<"$loops"
    cyc=$(per "$N" "$cyc")
    wai=$(per "$N" "$wai")
    door=$(per "$N" "$door")
    printf '%-6s %-22s -P %-3s cpu/request %s us  context switches/request %s  segments/request %s  cycles %s  waits %s  doorbells %s\n' \
        "$label" "$config" "$DEPTH" "$cpu" "$cs" "$segs" "$cyc" "$wai" "$door" >&2
    printf '%s|%s|%s|%s|%s|%s|%s|%s\n' "$label" "$config" "$cpu" "$cs" "$segs" "$cyc" "$wai" "$door" >>"$RAW"
}

binaries=("new:$SHARDIS_BIN")
[ -n "$BASE_BIN" ] && binaries=("base:$BASE_BIN" "new:$SHARDIS_BIN")
configs=("1 shard (CPU 1)|1|--shards 1" "2 shards (CPUs 0-1)|0-1|--shards 2"
    "2 shards (CPU 1)|1|--shards 2")
for ((i = 0; i < REPEAT; i++)); do
    for c in "${configs[@]}"; do
        IFS='|' read -r name cpus args <<<"$c"
        for b in "${binaries[@]}"; do
            # shellcheck disable=SC2086
            run "${b%%:*}" "${b#*:}" "$name" "$cpus" $args
        done
    done
done

rtt_one=$(pipe_rtt 1)
rtt_two=$(pipe_rtt 0-1)
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo nocommit)
out="$RESULTS_DIR/$(date +%F)-$commit-forward-P$DEPTH.md"
mkdir -p "$RESULTS_DIR"
{
    echo "# Forwarding: 1 shard against 2, -P $DEPTH"
    echo
    echo "- command: \`${BASE_BIN:+BASE_BIN=$BASE_BIN }REPEAT=$REPEAT N=$N bench/load/forward.sh $DEPTH\`"
    echo "- date: $(date '+%F %T %z')"
    echo "- commit: $commit (new: $SHARDIS_BIN${BASE_BIN:+; base: $BASE_BIN})"
    echo "- redis-benchmark -t set,get -n $N -r 100000 -c 50 -P $DEPTH on CPU 0; medians of $REPEAT runs"
    echo "- cpu: server utime+stime per request; cs: context switches per request (all threads);"
    echo "  segs: TCP segments per request on loopback (both directions);"
    echo "  cycles, waits, doorbells: the server's loop iterations, sleeps in the kernel and"
    echo "  wake-up messages between shards per request (INFO stats)"
    echo "- this machine's cost of a wake-up: a round trip between two threads through a pipe"
    echo "  (\`perf bench sched pipe\`, two sleeps and wake-ups) takes $rtt_one us on CPU 1,"
    echo "  $rtt_two us across CPUs 0-1"
    echo
    echo "| binary | configuration | cpu us/req | ratio to 1 shard | cs/req | segs/req | cycles/req | waits/req | doorbells/req |"
    echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    python3 - "$RAW" <<'EOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    label, config, *vals = line.strip().split("|")
    rows.setdefault((label, config), []).append(
        [float(x) if x != "-" else None for x in vals])


def med(v, i):
    xs = [x[i] for x in v if x[i] is not None]
    return statistics.median(xs) if xs else None


def fmt(x):
    return "-" if x is None else "%.4f" % x


for label in ("base", "new"):
    one = rows.get((label, "1 shard (CPU 1)"))
    for (l, config), v in rows.items():
        if l != label:
            continue
        m = [med(v, i) for i in range(6)]
        ratio = m[0] / med(one, 0) if one else float("nan")
        print("| %s | %s | %.3f | %.2f | %.3f | %.3f | %s | %s | %s |"
              % (label, config, m[0], ratio, m[1], m[2], fmt(m[3]), fmt(m[4]), fmt(m[5])))
EOF
} >"$out"
cat "$out"
echo "wrote $out" >&2
