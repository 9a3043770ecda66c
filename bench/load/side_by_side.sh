#!/usr/bin/env bash
# Side-by-side load test: Debian's redis-server and shardis (one shard),
# both running at once on two loopback ports, both pinned to one CPU, with
# the load generator pinned to another. Each test runs on one server, then
# on the other (the order swaps each round), so that a slow minute of the
# machine falls on both. For each server and test it records requests per
# second (from the client) and the server's CPU time per request
# (utime+stime from /proc/PID/stat); with ROUNDS > 1 the medians. Prints a
# table and writes it to bench/results/<date>-<shortcommit>.md. See
# bench/README.md.
#
#   bench/load/side_by_side.sh
#   REQUESTS_P1=50000 REQUESTS_P16=500000 bench/load/side_by_side.sh
#
# Environment (defaults in brackets):
#   SHARDIS_BIN     shardis binary [build/src/shardis-server]; must exec the
#                   server itself (its PID is the one measured)
#   SHARDIS_ARGS    extra server arguments, word-split []
#   REDIS_BIN       redis-server binary [redis-server]
#   REDIS_ARGS      extra redis-server arguments, word-split []
#   BENCH_PORT      loopback port of redis-server; shardis uses the next one [7379]
#   ROUNDS          runs of each test on each server, medians reported [1]
#   SERVER_CPU      CPU the server is pinned to [1]
#   CLIENT_CPU      CPU the load generator is pinned to [0]
#   CLIENTS         connections [50]
#   DEPTHS          pipeline depths, space-separated [1 16]
#   REQUESTS_P<d>   redis-benchmark -n at depth d [P1: 200000, P16: 2000000]
#   KEYSPACE        -r, random keys [100000]
#   DATA_SIZE       -d, value size in bytes [3]
#   TESTS           redis-benchmark tests (-t names), each run on its own so
#                   that the server's CPU time is per test [set get]
#   SUITE=default   TESTS = redis-benchmark's whole default suite, in its
#                   order: ping_inline ping_mbulk set get incr lpush rpush
#                   lpop rpop sadd hset spop zadd zpopmin lrange_100
#                   lrange_300 lrange_500 lrange_600 mset (an lrange_N run
#                   includes the LPUSH that fills its list, as
#                   redis-benchmark does it)
#   MEMTIER_REQUESTS_P<d>  memtier --requests (per connection) at depth d
#                   [P1: 4000, P16: 40000]; memtier runs only if
#                   memtier_benchmark is on PATH
#   RESULTS_DIR     where the .md goes [bench/results]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

# The command line as given, with the parameters that were set, for the report.
PARAM_NAMES=(SHARDIS_BIN SHARDIS_ARGS REDIS_BIN REDIS_ARGS BENCH_PORT SERVER_CPU
    CLIENT_CPU CLIENTS DEPTHS KEYSPACE DATA_SIZE TESTS SUITE ROUNDS RESULTS_DIR)
CMDLINE=""
for name in "${PARAM_NAMES[@]}" $(compgen -v | grep -E '^(MEMTIER_)?REQUESTS_P[0-9]+$' || true); do
    if [[ -n ${!name+x} ]]; then
        CMDLINE+="$name=$(printf '%q' "${!name}") "
    fi
done
CMDLINE+="$(printf '%q' "$0")"
for a in "$@"; do CMDLINE+=" $(printf '%q' "$a")"; done

case ${1:-} in
    -h | --help)
        awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"
        exit 0
        ;;
    "") ;;
    *)
        printf 'side_by_side: takes no arguments (see --help)\n' >&2
        exit 2
        ;;
esac

SHARDIS_BIN=${SHARDIS_BIN:-build/src/shardis-server}
REDIS_BIN=${REDIS_BIN:-redis-server}
PORT=${BENCH_PORT:-7379}
ROUNDS=${ROUNDS:-1}
SERVER_CPU=${SERVER_CPU:-1}
CLIENT_CPU=${CLIENT_CPU:-0}
CLIENTS=${CLIENTS:-50}
DEPTHS=${DEPTHS:-1 16}
KEYSPACE=${KEYSPACE:-100000}
DATA_SIZE=${DATA_SIZE:-3}
if [[ ${SUITE:-} == default ]]; then
    TESTS="ping_inline ping_mbulk set get incr lpush rpush lpop rpop sadd hset spop zadd zpopmin"
    TESTS+=" lrange_100 lrange_300 lrange_500 lrange_600 mset"
fi
TESTS=${TESTS:-set get}
RESULTS_DIR=${RESULTS_DIR:-bench/results}
: "${REQUESTS_P1:=200000}" "${REQUESTS_P16:=2000000}"
: "${MEMTIER_REQUESTS_P1:=4000}" "${MEMTIER_REQUESTS_P16:=40000}"
HOST=127.0.0.1 # loopback only

read -r -a depths <<<"$DEPTHS"
read -r -a tests <<<"$TESTS"
shardis_extra=()
redis_extra=()
[[ -z ${SHARDIS_ARGS:-} ]] || read -r -a shardis_extra <<<"$SHARDIS_ARGS"
[[ -z ${REDIS_ARGS:-} ]] || read -r -a redis_extra <<<"$REDIS_ARGS"

die() {
    printf 'side_by_side: %s\n' "$*" >&2
    exit 1
}
say() { printf '%s\n' "$*" >&2; }

# ---------------------------------------------------------------- checks --
for tool in redis-benchmark redis-cli taskset getconf awk; do
    command -v "$tool" >/dev/null || die "$tool not found (bash deploy/setup.sh installs it)"
done
command -v "$REDIS_BIN" >/dev/null || die "redis-server not found: $REDIS_BIN"
[[ -x $SHARDIS_BIN ]] || die "no shardis binary at $SHARDIS_BIN (bash deploy/build.sh release, or set SHARDIS_BIN)"
SHARDIS_BIN=$(cd "$(dirname "$SHARDIS_BIN")" && pwd)/$(basename "$SHARDIS_BIN")
taskset -c "$SERVER_CPU" true 2>/dev/null || die "cannot pin to SERVER_CPU=$SERVER_CPU"
taskset -c "$CLIENT_CPU" true 2>/dev/null || die "cannot pin to CLIENT_CPU=$CLIENT_CPU"
[[ $SERVER_CPU != "$CLIENT_CPU" ]] || say "warning: server and client share CPU $SERVER_CPU"
for d in "${depths[@]}"; do
    [[ $d =~ ^[0-9]+$ && $d -ge 1 ]] || die "bad depth in DEPTHS: $d"
    v=REQUESTS_P$d
    [[ ${!v:-} =~ ^[0-9]+$ ]] || die "set $v (redis-benchmark -n for depth $d)"
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
HZ=$(getconf CLK_TCK)

if command -v memtier_benchmark >/dev/null; then
    HAVE_MEMTIER=1
    for d in "${depths[@]}"; do
        v=MEMTIER_REQUESTS_P$d
        [[ ${!v:-} =~ ^[0-9]+$ ]] || die "set $v (memtier --requests for depth $d)"
    done
else
    HAVE_MEMTIER=0
fi

# --------------------------------------------------- processes and cleanup --
WORK=$(mktemp -d "${TMPDIR:-/tmp}/side_by_side.XXXXXX")
declare -A SPID SPORT # server name -> PID, port
SPORT[redis]=$PORT
SPORT[shardis]=$((PORT + 1))
CLIENT_PID=""

stop_pid() { # pid: TERM, wait up to 10 s, then KILL
    local pid=$1 i
    [[ -n $pid ]] || return 0
    kill -0 "$pid" 2>/dev/null || {
        wait "$pid" 2>/dev/null || true
        return 0
    }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "pid $pid did not exit on SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    stop_pid "$CLIENT_PID"
    CLIENT_PID=""
    stop_pid "${SPID[redis]:-}"
    stop_pid "${SPID[shardis]:-}"
    SPID=()
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ping_ok() { # port
    [[ $(redis-cli -h "$HOST" -p "$1" ping 2>/dev/null) == PONG ]]
}

start_server() { # name command... (the port is SPORT[name])
    local name=$1 port=${SPORT[$1]} i pid
    shift
    ping_ok "$port" && die "something already answers on $HOST:$port; set BENCH_PORT"
    say "starting $name on $HOST:$port, CPU $SERVER_CPU:$(printf ' %q' "$@")"
    # taskset execs the server: $! is the server's own PID.
    taskset -c "$SERVER_CPU" "$@" --port "$port" >"$WORK/$name.log" 2>&1 </dev/null &
    pid=$!
    SPID[$name]=$pid
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        ping_ok "$port" && return 0
        sleep 0.1
    done
    tail -n 20 "$WORK/$name.log" >&2 || true
    die "$name did not answer PING on $HOST:$port within 10 s"
}

cpu_ticks() { # pid -> utime+stime of the whole process (all threads), ticks
    local stat f
    stat=$(<"/proc/$1/stat")
    stat=${stat##*) } # drop "pid (comm) ", comm may hold spaces
    read -r -a f <<<"$stat"
    # f[0] is field 3 (state); utime is field 14, stime field 15
    echo $((f[11] + f[12]))
}

run_client() { # outfile command...  (pinned to CLIENT_CPU, killable by PID)
    local out=$1 rc=0
    shift
    taskset -c "$CLIENT_CPU" "$@" >"$out" 2>"$out.err" </dev/null &
    CLIENT_PID=$!
    wait "$CLIENT_PID" || rc=$?
    CLIENT_PID=""
    if ((rc != 0)); then
        cat "$out.err" >&2
        die "client failed ($rc): $*"
    fi
}

median() { # numbers... -> their median (the mean of the middle two)
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# Results: key "server|test|depth" -> value (medians over the rounds)
declare -A RPS CPU_TICKS NREQ RPS_ALL TICKS_ALL
RUN_ORDER=() # "test|depth" in run order
RAW=""   # raw client lines for the report

record_test() {
    local key=$1
    local t
    for t in "${RUN_ORDER[@]+"${RUN_ORDER[@]}"}"; do
        [[ $t == "$key" ]] && return 0
    done
    RUN_ORDER+=("$key")
}

run_one() { # server test depth n
    local server=$1 test=$2 d=$3 n=$4 csv_test out rps t0 t1 pid=${SPID[$1]}
    csv_test=${test^^}
    out=$WORK/$server-$test-P$d.csv
    t0=$(cpu_ticks "$pid")
    run_client "$out" redis-benchmark -h "$HOST" -p "${SPORT[$server]}" -c "$CLIENTS" \
        -n "$n" -r "$KEYSPACE" -d "$DATA_SIZE" -P "$d" -t "$test" --csv
    t1=$(cpu_ticks "$pid")
    # "LRANGE_100 (first 100 elements)": the name, then a space
    rps=$(awk -F'"' -v t="$csv_test" '$2 == t || index($2, t " (") == 1 { print $4; exit }' "$out")
    [[ -n $rps ]] || die "no $csv_test line in redis-benchmark output: $(cat "$out")"
    RPS_ALL["$server|$test|$d"]+=" $rps"
    TICKS_ALL["$server|$test|$d"]+=" $((t1 - t0))"
    NREQ["$server|$test|$d"]=$n
    RAW+="$server P$d $(grep -E "^\"${csv_test}[\" ]" "$out" | head -1)"$'\n'
    say "$(printf '%-8s %-4s P%-3s n=%-9s %12s rps  server CPU %ss' "$server" "$test" "$d" "$n" "$rps" \
        "$(awk -v t=$((t1 - t0)) -v hz="$HZ" 'BEGIN { printf "%.2f", t / hz }')")"
}

run_suite() { # every test on both servers, the order swapped each round
    local d n test r key server
    for d in "${depths[@]}"; do
        n=REQUESTS_P$d
        n=${!n}
        for test in "${tests[@]}"; do
            record_test "$test|$d"
            for ((r = 1; r <= ROUNDS; r++)); do
                if ((r % 2)); then
                    run_one redis "$test" "$d" "$n"
                    run_one shardis "$test" "$d" "$n"
                else
                    run_one shardis "$test" "$d" "$n"
                    run_one redis "$test" "$d" "$n"
                fi
            done
            for server in redis shardis; do
                key="$server|$test|$d"
                # shellcheck disable=SC2086 # the lists are space-separated numbers
                RPS[$key]=$(median ${RPS_ALL[$key]})
                # shellcheck disable=SC2086
                CPU_TICKS[$key]=$(median ${TICKS_ALL[$key]})
            done
        done
    done
}

run_memtier() { # server
    local server=$1 d n test out rps t0 t1 pid=${SPID[$1]}
    for d in "${depths[@]}"; do
        n=MEMTIER_REQUESTS_P$d
        n=${!n}
        test="memtier 1:1"
        out=$WORK/$server-memtier-P$d.txt
        t0=$(cpu_ticks "$pid")
        run_client "$out" memtier_benchmark --server="$HOST" --port="${SPORT[$server]}" --protocol=redis \
            --threads=1 --clients="$CLIENTS" --ratio=1:1 --pipeline="$d" --requests="$n" \
            --data-size="$DATA_SIZE" --key-minimum=1 --key-maximum="$KEYSPACE" \
            --key-pattern=R:R --hide-histogram
        t1=$(cpu_ticks "$pid")
        rps=$(awk '$1 == "Totals" { print $2; exit }' "$out")
        [[ -n $rps ]] || die "no Totals line in memtier output: $(cat "$out")"
        record_test "$test|$d"
        RPS["$server|$test|$d"]=$rps
        CPU_TICKS["$server|$test|$d"]=$((t1 - t0))
        NREQ["$server|$test|$d"]=$((n * CLIENTS))
        RAW+="$server P$d memtier $(awk '$1 == "Totals"' "$out" | tr -s ' ')"$'\n'
        say "$(printf '%-8s %-11s P%-3s n=%-9s %12s ops/s' "$server" "$test" "$d" "$((n * CLIENTS))" "$rps")"
    done
}

# ------------------------------------------------------------------- runs --
if ((!HAVE_MEMTIER)); then
    say "memtier_benchmark not on PATH: skipping the memtier comparison"
fi

start_server redis "$REDIS_BIN" --bind "$HOST" --save '' --appendonly no \
    ${redis_extra[@]+"${redis_extra[@]}"}
REDIS_VERSION=$(redis-cli -h "$HOST" -p "${SPORT[redis]}" info server | tr -d '\r' |
    awk -F: '$1 == "redis_version" { print $2 }')
start_server shardis "$SHARDIS_BIN" --bind "$HOST" --shards 1 \
    ${shardis_extra[@]+"${shardis_extra[@]}"}
run_suite
if ((HAVE_MEMTIER)); then
    run_memtier redis
    run_memtier shardis
fi
stop_pid "${SPID[redis]}"
stop_pid "${SPID[shardis]}"
SPID=()

# ----------------------------------------------------------------- report --
us_per_req() { # ticks n
    awk -v t="$1" -v n="$2" -v hz="$HZ" 'BEGIN { printf "%.2f", t * 1e6 / hz / n }'
}

table() {
    local key test d r s ru su ratio
    printf '| test | depth | redis rps | shardis rps | redis us/req | shardis us/req | ratio shardis/redis CPU |\n'
    printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n'
    for key in "${RUN_ORDER[@]}"; do
        test=${key%|*}
        d=${key#*|}
        r="redis|$key"
        s="shardis|$key"
        ru=$(us_per_req "${CPU_TICKS[$r]}" "${NREQ[$r]}")
        su=$(us_per_req "${CPU_TICKS[$s]}" "${NREQ[$s]}")
        ratio=$(awk -v a="$su" -v b="$ru" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')
        printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$test" "$d" \
            "${RPS[$r]}" "${RPS[$s]}" "$ru" "$su" "$ratio"
    done
}

TABLE=$(table)
printf '\n%s\n\n' "$TABLE"

DATE=$(date '+%Y-%m-%d')
NOW=$(date '+%Y-%m-%d %H:%M:%S %z')
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo nocommit)
DIRTY=""
if [[ $COMMIT != nocommit && -n $(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
    DIRTY=" (work tree has uncommitted changes)"
fi
CPU_MODEL=$(lscpu 2>/dev/null | awk -F: '$1 == "Model name" { sub(/^[ \t]+/, "", $2); print $2; exit }')
mkdir -p "$RESULTS_DIR"
OUTFILE=$RESULTS_DIR/$DATE-$COMMIT.md
i=2
while [[ -e $OUTFILE ]]; do
    OUTFILE=$RESULTS_DIR/$DATE-$COMMIT-$i.md
    i=$((i + 1))
done

# Markdown backquotes below are literal.
# shellcheck disable=SC2016
{
    printf '# redis-server vs shardis, side by side\n\n'
    printf -- '- command: `%s`\n' "$CMDLINE"
    printf -- '- date: %s\n' "$NOW"
    printf -- '- commit: %s%s\n' "$COMMIT" "$DIRTY"
    printf -- '- CPU: %s (%s CPUs online)\n' "${CPU_MODEL:-unknown}" "$(nproc --all)"
    printf -- '- kernel: %s\n' "$(uname -r)"
    printf -- '- load average before the run: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf -- '- redis-server %s: `--save '"''"' --appendonly no`\n' "${REDIS_VERSION:-?}"
    printf -- '- shardis: `%s --shards 1`\n' "$SHARDIS_BIN"
    printf -- '- servers pinned to CPU %s, running side by side on 127.0.0.1:%s (redis) and :%s (shardis); each test runs on one, then the other, the order swapped each round; %s round(s), medians; load generator pinned to CPU %s\n' \
        "$SERVER_CPU" "${SPORT[redis]}" "${SPORT[shardis]}" "$ROUNDS" "$CLIENT_CPU"
    printf -- '- redis-benchmark: -c %s -r %s -d %s; -n per depth:' "$CLIENTS" "$KEYSPACE" "$DATA_SIZE"
    for d in "${depths[@]}"; do
        v=REQUESTS_P$d
        printf ' P%s=%s' "$d" "${!v}"
    done
    printf '\n'
    if ((HAVE_MEMTIER)); then
        printf -- '- memtier_benchmark: 1 thread, %s clients, --ratio 1:1, --key-pattern R:R; --requests per client:' "$CLIENTS"
        for d in "${depths[@]}"; do
            v=MEMTIER_REQUESTS_P$d
            printf ' P%s=%s' "$d" "${!v}"
        done
        printf '\n'
    else
        printf -- '- memtier_benchmark: not on PATH, skipped\n'
    fi
    printf '\nus/req is server CPU time (utime+stime of the server process, all threads,\n'
    printf 'from /proc/PID/stat, %s ticks per second) divided by the requests sent.\n' "$HZ"
    printf 'Lower is better; the ratio below 1 means shardis spends less CPU per request.\n\n'
    printf '%s\n\n' "$TABLE"
    printf '## Raw client output\n\n'
    printf 'redis-benchmark CSV: test, rps, avg, min, p50, p95, p99, max latency (ms).\n\n'
    printf '```\n%s```\n\n' "$RAW"
    printf '## Server CPU per run\n\n'
    printf '| server | test | depth | requests | CPU s |\n| --- | --- | ---: | ---: | ---: |\n'
    for srv in redis shardis; do
        for key in "${RUN_ORDER[@]}"; do
            printf '| %s | %s | %s | %s | %s |\n' "$srv" "${key%|*}" "${key#*|}" "${NREQ[$srv|$key]}" \
                "$(awk -v t="${CPU_TICKS[$srv|$key]}" -v hz="$HZ" 'BEGIN { printf "%.2f", t / hz }')"
        done
    done
} >"$OUTFILE"

say "written: $OUTFILE"
python3 "$ROOT/bench/plot.py" "$OUTFILE" || true  # SVG charts beside it
