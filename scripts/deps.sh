#!/usr/bin/env bash
# Installs the Debian 12 packages liftoff needs to build, run and test.
# Usage: scripts/deps.sh [--test]   (--test adds what the test suite needs)
set -euo pipefail

build_pkgs=(meson ninja-build pkg-config gcc libc6-dev
            libmicrohttpd-dev libcjson-dev libuv1-dev libsqlite3-dev libcurl4-openssl-dev
            python3-dev python3-cloudpickle python3-packaging)
test_pkgs=(check python3-pytest python3-requests python3-numpy openssl curl)

pkgs=("${build_pkgs[@]}")
if [ "${1:-}" = "--test" ]; then
  pkgs+=("${test_pkgs[@]}")
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
