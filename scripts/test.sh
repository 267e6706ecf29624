#!/usr/bin/env bash
# Installs dependencies, builds caflens with its tests and runs the full suite.
#   scripts/test.sh              # release build with assertions in build/
#   scripts/test.sh --sanitize   # ASan + UBSan build in build-asan/
# Extra arguments after `--` go to ctest (e.g. `-- -R telemetry`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

build_dir=build
cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCAFLENS_ENABLE_TESTING=ON)
ctest_args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize)
      build_dir=build-asan
      cmake_args+=(-DCAFLENS_ENABLE_SANITIZERS=ON)
      export ASAN_OPTIONS="abort_on_error=1"
      export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$root/cmake/sanitizers.supp"
      ;;
    --) shift; ctest_args+=("$@"); break ;;
    *) echo "test.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

bash scripts/setup.sh
# Let ccache reuse objects across clones in other directories.
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
[ -f "$build_dir/CMakeCache.txt" ] && generator=()
command -v ccache >/dev/null && cmake_args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

jobs=$(nproc)
cmake -S . -B "$build_dir" "${generator[@]}" "${cmake_args[@]}" >/dev/null
cmake --build "$build_dir" -j "$jobs"
cd "$build_dir"
ctest --output-on-failure -j "$jobs" "${ctest_args[@]}"
