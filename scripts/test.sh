#!/usr/bin/env bash
# Installs what the tests need, builds liftoff twice (plain, and with
# AddressSanitizer + UBSan), runs the C unit tests under the sanitizers,
# then the end-to-end tests against the real binary, and once more against
# the sanitizer build (server and workers), so that a memory error on any
# path the end-to-end tests reach fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh --test

[ -d build ] || meson setup build >/dev/null
meson compile -C build
[ -d build-asan ] || meson setup build-asan -Db_sanitize=address,undefined \
  -Db_lundef=false >/dev/null
meson compile -C build-asan

echo "== unit tests (AddressSanitizer + UBSan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --suite unit --print-errorlogs

echo "== end-to-end tests"
# Debian's interpreter, the one liftoff embeds: bundles must be pickled by it.
LIFTOFF_BIN="$PWD/build/liftoff" /usr/bin/python3 -m pytest -q tests/e2e "$@"

echo "== end-to-end tests again, server and workers under AddressSanitizer + UBSan"
# Leak checks are off here (the unit tests above keep them on): workers embed
# CPython, which by design keeps memory until the process exits.
ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  LIFTOFF_BIN="$PWD/build-asan/liftoff" /usr/bin/python3 -m pytest -q tests/e2e "$@"
