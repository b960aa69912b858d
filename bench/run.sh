#!/usr/bin/env bash
# liftoff benchmark: liftoff vs uWSGI and uvicorn/FastAPI serving the same
# cloudpickled model, plus liftoff's cold start and memory per worker.
# Writes docs/benchmarks.md. Run by hand on a quiet machine (never by CI);
# it takes about 5 minutes.
#
#   bench/run.sh [--bin PATH] [--out FILE|-] [--duration S] [--threads N] ...
#
# --bin defaults to build/liftoff (build it first: meson compile -C build);
# the binary is copied to a temporary folder and the copy is benchmarked, so
# a rebuild during the run does not matter. `bench/run.sh --help` lists the
# other options (bench/bench.py).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the benchmark needs. python3-uvloop and python3-httptools
# let uvicorn use its fast event loop and HTTP parser, as `uvicorn[standard]`
# deployments do, so that the uvicorn peer is not handicapped.
pkgs=(wrk uwsgi uwsgi-plugin-python3 python3-fastapi uvicorn python3-cloudpickle
      python3-requests python3-uvloop python3-httptools)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "[bench] installing ${missing[*]}" >&2
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" >&2
fi

# Debian's interpreter, never a pyenv/venv python3 earlier on PATH: the
# pickle, the peers and liftoff's workers must all use the same one.
exec /usr/bin/python3 bench/bench.py "$@"
