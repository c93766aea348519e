#!/usr/bin/env bash
# Install Debian packages for the test suite, waiting for apt's lock instead of failing at
# once: a fresh Debian VM runs unattended-upgrades at boot and holds the lock for minutes.
# Usage: scripts/apt-install.sh [--no-update] PACKAGE...   (APT_LOCK_TIMEOUT: seconds, 600)
set -euo pipefail
update=1
if [ "${1:-}" = "--no-update" ]; then
    update=0
    shift
fi
wait="${APT_LOCK_TIMEOUT:-600}"
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt=(apt-get -o "DPkg::Lock::Timeout=$wait")
if [ "$update" -eq 1 ]; then
    as_root "${apt[@]}" update -qq
fi
as_root env DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq "$@" >/dev/null
