#!/usr/bin/env bash
# Quick start: set up everything the tests need, then run the linters, the type check and the
# whole test suite. CI runs exactly this (.ci/run). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev

# The IMAP tests run a real Dovecot; install it when missing (Debian package dovecot-imapd).
if [ ! -x /usr/sbin/dovecot ] && ! command -v dovecot >/dev/null 2>&1; then
    as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >/dev/null
fi

# The audit tests use the sqlite3 shell; the HTML report test opens the page in headless Chromium.
missing=()
command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ]; then
    as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The unit-file tests run systemd-analyze verify/security (Debian package systemd).
if ! command -v systemd-analyze >/dev/null 2>&1; then
    as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null
fi

echo "--- ruff check"
.venv/bin/ruff check .
echo "--- ruff format --check"
.venv/bin/ruff format --check .
echo "--- mypy --strict notifier"
.venv/bin/mypy --strict notifier
echo "--- pytest"
.venv/bin/pytest "$@"
