#!/usr/bin/env bash
# The README's first command: builds caflens and runs `caflens demo` — a CAF
# upload pipeline with an injected fault, investigated by caflens.
#   scripts/demo.sh                                  # slow_consumer, report
#   scripts/demo.sh --scenario crash_loop --json     # arguments go to
#                                                    # `caflens demo`
#   scripts/demo.sh --list                           # the scenarios
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
# Let ccache reuse objects across clones in other directories.
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
command -v ninja >/dev/null && [ ! -f build/CMakeCache.txt ] && args+=(-G Ninja)
command -v ccache >/dev/null && args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# Build output goes to stderr: stdout is the report (or the JSON result).
cmake -S . -B build "${args[@]}" >/dev/null
cmake --build build --target caflens -j "$(nproc)" >&2
exec build/apps/caflens/caflens demo "$@"
