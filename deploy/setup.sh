#!/usr/bin/env bash
# Installs the Debian packages that building, testing and benchmarking
# shardis need. Idempotent: packages already installed are left alone, and
# when nothing is missing the script changes nothing (and needs no root).
#
# No service is started as a side effect: Debian's redis-server package
# would otherwise start a redis-server on port 6379 on a machine with
# systemd. While apt-get runs, /usr/sbin/policy-rc.d answers 101 ("action
# forbidden"); whatever policy-rc.d was there before is put back afterwards.
set -euo pipefail

PACKAGES=(
    build-essential cmake pkg-config
    liburing-dev libxxhash-dev libjemalloc-dev libcmocka-dev
    redis-tools redis-server python3-redis libhiredis-dev nutcracker
    clang libclang-rt-14-dev
    liblua5.1-0-dev lua-cjson-dev lua-bitop-dev
)

POLICY=/usr/sbin/policy-rc.d
POLICY_BACKUP=""
POLICY_OURS=0

log() { printf 'setup: %s\n' "$*" >&2; }

is_installed() {
    local status
    status=$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) || return 1
    [[ $status == installed ]]
}

restore_policy() {
    if [[ $POLICY_OURS == 1 ]]; then
        rm -f "$POLICY"
        if [[ -n $POLICY_BACKUP ]]; then
            mv -f "$POLICY_BACKUP" "$POLICY"
        fi
        POLICY_OURS=0
    fi
}

forbid_service_starts() {
    if [[ -e $POLICY || -L $POLICY ]]; then
        POLICY_BACKUP=$(mktemp "${POLICY}.shardis-backup.XXXXXX")
        cp -a "$POLICY" "$POLICY_BACKUP"
    fi
    POLICY_OURS=1
    trap restore_policy EXIT
    trap 'restore_policy; exit 130' INT
    trap 'restore_policy; exit 143' TERM
    printf '#!/bin/sh\n# written by shardis deploy/setup.sh while apt-get runs\nexit 101\n' >"$POLICY"
    chmod 0755 "$POLICY"
}

apt_install() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
}

main() {
    local missing=() pkg
    for pkg in "${PACKAGES[@]}"; do
        is_installed "$pkg" || missing+=("$pkg")
    done

    if ((${#missing[@]} == 0)); then
        log "all ${#PACKAGES[@]} packages already installed"
        return 0
    fi

    log "missing: ${missing[*]}"
    if [[ $(id -u) != 0 ]]; then
        log "not root: run as root, or install them: apt-get install -y ${missing[*]}"
        return 1
    fi

    forbid_service_starts
    if ! apt_install "${missing[@]}"; then
        log "install failed; running apt-get update and trying again"
        DEBIAN_FRONTEND=noninteractive apt-get update
        apt_install "${missing[@]}"
    fi
    restore_policy

    for pkg in "${missing[@]}"; do
        if ! is_installed "$pkg"; then
            log "still missing after install: $pkg"
            return 1
        fi
    done
    log "installed: ${missing[*]}"
}

# The Node.js clients of the interop tests (ioredis, node-redis) come from the
# npm registry, pinned by tests/interop/node/package-lock.json. Without npm
# or the registry the Node.js interop test skips; nothing else depends on it.
install_node_clients() {
    local dir
    dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/interop/node"
    if [[ -d $dir/node_modules/ioredis && -d $dir/node_modules/redis ]]; then
        return 0
    fi
    if ! command -v npm >/dev/null 2>&1; then
        log "npm not found: the Node.js interop test will be skipped"
        return 0
    fi
    log "installing the Node.js clients into tests/interop/node (npm ci)"
    if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error); then
        log "npm ci failed: the Node.js interop test will be skipped"
    fi
}

main "$@"
install_node_clients
