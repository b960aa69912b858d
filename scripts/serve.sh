#!/usr/bin/env bash
# Installs what liftoff needs, builds it, and starts the server in the
# foreground with its defaults (SQLite and ./liftoff-data). Extra arguments
# go to "liftoff serve", e.g. scripts/serve.sh --port 8080.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
[ -d build ] || meson setup build >/dev/null
meson compile -C build >/dev/null
exec build/liftoff serve "$@"
