#!/usr/bin/env bash
# Builds shardis and runs its test suite (ctest) in each build variant.
# This is what CI runs (.ci/run).
#
#   deploy/test.sh                  release, asan and tsan
#   deploy/test.sh release          just one variant (or any subset, in order)
#
# Each variant is built (deploy/build.sh) and tested even if an earlier one
# failed; the script exits non-zero if any build or test run failed, after a
# summary with timings.
#
# Environment:
#   SHARDIS_SKIP_SETUP=1     do not run deploy/setup.sh
#   SHARDIS_TEST_TIMEOUT     per-test timeout in seconds for tests that set
#                            none themselves (default 300)
#   CTEST_PARALLEL_LEVEL     ctest's own: run that many tests at once
#                            (default 2: the suites mostly wait on timers)
#   CTEST_ARGS               extra ctest arguments (word-split), e.g. "-R unit"
#   ASAN_OPTIONS, UBSAN_OPTIONS, TSAN_OPTIONS
#                            appended to this script's defaults (later wins)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

BUDGET_S=1200 # the whole run should stay under ~20 minutes on 2 cores

variants=("$@")
if ((${#variants[@]} == 0)); then
    variants=(release asan tsan)
fi
for v in "${variants[@]}"; do
    case $v in
        release | asan | tsan) ;;
        -h | --help)
            awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"
            exit 0
            ;;
        *)
            printf 'test: unknown variant %q (release, asan or tsan)\n' "$v" >&2
            exit 2
            ;;
    esac
done

# Sanitizer settings: stop at the first error, report leaks, keep stacks.
# Any value already in the environment is appended, so it can override these.
export CTEST_PARALLEL_LEVEL=${CTEST_PARALLEL_LEVEL:-2}
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_leaks=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}"

LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/shardis-test.XXXXXX")
trap 'rm -rf "$LOGDIR"' EXIT

dir_of() {
    case $1 in
        release) echo build ;;
        asan) echo build-asan ;;
        tsan) echo build-tsan ;;
    esac
}

fmt_s() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

t_start=$SECONDS

if [[ ${SHARDIS_SKIP_SETUP:-0} != 1 ]]; then
    bash deploy/setup.sh
fi
t_setup=$((SECONDS - t_start))

ctest_extra=()
if [[ -n ${CTEST_ARGS:-} ]]; then
    read -r -a ctest_extra <<<"$CTEST_ARGS"
fi

declare -A build_rc build_s test_rc test_s passed failed
any_failed=0
total_passed=0
total_failed=0

for v in "${variants[@]}"; do
    dir=$(dir_of "$v")
    printf '\n===== %s: build (%s/) =====\n' "$v" "$dir"
    t0=$SECONDS
    if bash deploy/build.sh "$v"; then
        build_rc[$v]=0
    else
        build_rc[$v]=$?
    fi
    build_s[$v]=$((SECONDS - t0))

    passed[$v]=0
    failed[$v]=0
    test_s[$v]=0
    if [[ ${build_rc[$v]} != 0 ]]; then
        test_rc[$v]=skipped
        failed[$v]=1 # counted as one failure so the closing line says so
        total_failed=$((total_failed + 1))
        any_failed=1
        continue
    fi

    printf '\n===== %s: ctest =====\n' "$v"
    log=$LOGDIR/ctest-$v.log
    t0=$SECONDS
    # --no-tests=error: a suite that finds no test is a failure, not a pass.
    if ctest --test-dir "$dir" --output-on-failure --no-tests=error \
        --timeout "${SHARDIS_TEST_TIMEOUT:-300}" \
        ${ctest_extra[@]+"${ctest_extra[@]}"} 2>&1 | tee "$log"; then
        test_rc[$v]=0
    else
        test_rc[$v]=${PIPESTATUS[0]}
        any_failed=1
    fi
    test_s[$v]=$((SECONDS - t0))

    # "NN% tests passed, F tests failed out of T"
    line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1 || true)
    if [[ $line =~ ([0-9]+)\ tests?\ failed\ out\ of\ ([0-9]+) ]]; then
        failed[$v]=${BASH_REMATCH[1]}
        passed[$v]=$((BASH_REMATCH[2] - BASH_REMATCH[1]))
    elif [[ ${test_rc[$v]} != 0 ]]; then
        failed[$v]=1 # ctest itself failed (no tests, bad folder ...)
    fi
    total_passed=$((total_passed + passed[$v]))
    total_failed=$((total_failed + failed[$v]))
done

t_total=$((SECONDS - t_start))

printf '\n===== summary =====\n'
printf 'setup: %s\n' "$(fmt_s "$t_setup")"
printf '%-8s %-7s %-9s %-8s %-9s %7s %7s\n' variant build time ctest time passed failed
for v in "${variants[@]}"; do
    b=ok
    [[ ${build_rc[$v]} == 0 ]] || b="FAIL(${build_rc[$v]})"
    case ${test_rc[$v]} in
        0) t=ok ;;
        skipped) t=skipped ;;
        *) t="FAIL(${test_rc[$v]})" ;;
    esac
    printf '%-8s %-7s %-9s %-8s %-9s %7d %7d\n' "$v" "$b" "$(fmt_s "${build_s[$v]}")" \
        "$t" "$(fmt_s "${test_s[$v]}")" "${passed[$v]}" "${failed[$v]}"
done
printf 'total: %s' "$(fmt_s "$t_total")"
if ((t_total > BUDGET_S)); then
    printf '  (WARNING: over the %s budget)' "$(fmt_s "$BUDGET_S")"
fi
printf '\n'
if ((any_failed)); then
    printf 'result: FAILED\n'
else
    printf 'result: OK\n'
fi
# The plain closing line that CI reads, summed over the variants.
printf 'ctest: %d passed, %d failed\n' "$total_passed" "$total_failed"
exit "$any_failed"
