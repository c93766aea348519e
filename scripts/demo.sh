#!/usr/bin/env bash
# Quick start: set up and watch notifier work on its sample exports (no configuration needed).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/notifier demo "$@"
