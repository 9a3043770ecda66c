#!/usr/bin/env bash
# Configures and builds shardis.
#
#   deploy/build.sh [release|asan|tsan]     (default: release)
#
#   release  -> build/       CMAKE_BUILD_TYPE=Release
#   asan     -> build-asan/  RelWithDebInfo, -DSHARDIS_SANITIZE=address,undefined
#   tsan     -> build-tsan/  RelWithDebInfo, -DSHARDIS_SANITIZE=thread
#
# Environment: JOBS (parallel build jobs, default: nproc),
# SHARDIS_CMAKE_ARGS (extra arguments for the configure step, word-split).
# Re-running is cheap: CMake reuses the build folder and rebuilds what changed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

variant=${1:-release}
case $variant in
    release) dir=build      type=Release        sanitize="" ;;
    asan)    dir=build-asan type=RelWithDebInfo sanitize="address,undefined" ;;
    tsan)    dir=build-tsan type=RelWithDebInfo sanitize="thread" ;;
    -h | --help)
        awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "${BASH_SOURCE[0]}"
        exit 0
        ;;
    *)
        printf 'build: unknown variant %q (release, asan or tsan)\n' "$variant" >&2
        exit 2
        ;;
esac

if [[ ! -f CMakeLists.txt ]]; then
    printf 'build: no CMakeLists.txt in %s\n' "$ROOT" >&2
    exit 1
fi

jobs=${JOBS:-$(nproc)}
extra=()
if [[ -n ${SHARDIS_CMAKE_ARGS:-} ]]; then
    read -r -a extra <<<"$SHARDIS_CMAKE_ARGS"
fi

# An empty SHARDIS_SANITIZE is passed explicitly so that a folder configured
# by hand with a sanitizer cannot silently give a sanitized "release".
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" -DSHARDIS_SANITIZE="$sanitize" \
    ${extra[@]+"${extra[@]}"}
cmake --build "$dir" --parallel "$jobs"
printf 'build: %s done in %s/\n' "$variant" "$dir" >&2
