#!/usr/bin/env bash
# The README's first command. Until the investigation engine and its
# `caflens demo` CLI land, it builds caflens and runs the telemetry tour: a
# simulated upload service whose spans feed live percentiles per route.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
# Let ccache reuse objects across clones in other directories.
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
command -v ninja >/dev/null && [ ! -f build/CMakeCache.txt ] && args+=(-G Ninja)
command -v ccache >/dev/null && args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B build "${args[@]}" >/dev/null
cmake --build build --target telemetry_tour -j "$(nproc)"
exec build/apps/examples/telemetry_tour "$@"
