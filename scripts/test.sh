#!/usr/bin/env bash
# Quick start: set up everything the tests need, then run the linters, the type check and the
# whole test suite. CI runs exactly this (.ci/run). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev

# Real components the tests start or call, from Debian when missing: Dovecot (IMAP tests),
# the sqlite3 shell (audit tamper tests), Chromium (HTML report test), PostgreSQL, systemd (unit-file tests
# and a real systemd booted in namespaces) and python3-venv (the production install). Tests that
# need them fail, never skip, when they are absent. The live helpdesks (tests/live) install
# themselves from PyPI into .live/ when missing (django-helpdesk: about 7 s, once).
missing=()
[ -x /usr/sbin/dovecot ] || command -v dovecot >/dev/null 2>&1 || missing+=(dovecot-imapd)
command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
# The real-systemd test installs notifier as docs/operations.md says: a venv from Debian's python3.
/usr/bin/python3 -c 'import ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
# PostgreSQL for the HA state backend's tests (tests/postgres.py: initdb and pg_ctl in a temp dir).
compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null || missing+=(postgresql)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "--- installing ${missing[*]} (waiting for apt's lock if another apt holds it)"
    scripts/apt-install.sh "${missing[@]}"
fi

# Request Tracker 5 for the live tests (tests/live/request_tracker.py), without recommends (they
# pull a web server and a database server in). RT depends on an MTA: ssmtp (no daemon) only on a
# machine that has none, so an existing MTA is never replaced.
if [ ! -x /usr/share/request-tracker5/libexec/rt-server ]; then
    rt=(request-tracker5 rt5-db-sqlite rt5-clients rt5-standalone dbconfig-no-thanks w3m)
    command -v sendmail >/dev/null 2>&1 || rt+=(ssmtp)
    echo "--- installing ${rt[*]} (Request Tracker, for tests/live)"
    scripts/apt-install.sh --no-install-recommends "${rt[@]}"
fi

# Redmine 5 for the live tests (tests/live/redmine.py), WEBrick to serve it.
if [ ! -f /usr/share/redmine/config/application.rb ] || ! dpkg -s ruby-webrick >/dev/null 2>&1; then
    echo "--- installing redmine redmine-sqlite ruby-webrick (for tests/live)"
    scripts/apt-install.sh --no-install-recommends redmine redmine-sqlite ruby-webrick
fi

echo "--- ruff check"
.venv/bin/ruff check .
echo "--- ruff format --check"
.venv/bin/ruff format --check .
echo "--- mypy --strict notifier"
.venv/bin/mypy --strict notifier
echo "--- pytest"
.venv/bin/pytest "$@"
