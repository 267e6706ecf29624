#!/usr/bin/env bash
# Installs dependencies, builds caflens with its tests and runs the full suite.
#   scripts/test.sh              # release build with assertions in build/
#   scripts/test.sh --sanitize   # ASan + UBSan build in build-asan/
#   scripts/test.sh --components "telemetry;store"  # build and test only
#                                # these components (and tests labelled so)
# Extra arguments after `--` go to ctest (e.g. `-- -R telemetry`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

build_dir=build
sanitize=0
cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCAFLENS_ENABLE_TESTING=ON)
ctest_args=()
components=all
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize)
      build_dir=build-asan
      cmake_args+=(-DCAFLENS_ENABLE_SANITIZERS=ON)
      sanitize=1
      ;;
    --components)
      shift
      [ $# -gt 0 ] || { echo "test.sh: --components needs a list" >&2; exit 2; }
      components=$1
      ctest_args+=(-L "^($(echo "$1" | tr ';' '|'))$")
      ;;
    --) shift; ctest_args+=("$@"); break ;;
    *) echo "test.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
  shift
done

cmake_args+=("-DCAFLENS_COMPONENTS=$components")
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
if [ "$sanitize" = 1 ]; then
  # Reports go to files, so that one in a child process (a node, the CLI, a
  # demo the test drives) fails the run even when its test survives it.
  reports=$PWD/sanitizer-reports
  rm -rf "$reports" && mkdir -p "$reports"
  export ASAN_OPTIONS="abort_on_error=1:log_path=$reports/asan"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$root/cmake/sanitizers.supp:log_path=$reports/ubsan"
fi
status=0
ctest --output-on-failure -j "$jobs" "${ctest_args[@]}" || status=$?
if [ "$sanitize" = 1 ] && [ -n "$(ls -A "$reports")" ]; then
  for f in "$reports"/*; do echo "== $f"; cat "$f"; done
  echo "test.sh: sanitizer reports above (in $reports)" >&2
  exit 1
fi
exit $status
