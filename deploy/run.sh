#!/usr/bin/env bash
# Quick start: installs what is missing, builds the release binary and runs
# shardis in the foreground with deploy/shardis.conf (port 6379, loopback).
# Extra arguments are passed to the server, e.g.:
#   deploy/run.sh --port 7000 --shards 2
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

bash deploy/setup.sh
bash deploy/build.sh release
exec build/src/shardis-server deploy/shardis.conf "$@"
