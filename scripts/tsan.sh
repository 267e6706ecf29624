#!/usr/bin/env bash
# ThreadSanitizer over caflens and an instrumented CAF (before a release;
# too long for CI on 2 cores). Debian's libcaf is not instrumented, so TSan
# would not see the synchronisation of CAF's mailboxes and report every
# message handoff: CAF 0.17.6 is built from its sources with TSan first.
#
#   scripts/tsan.sh CAF_SOURCE_DIR [-- test runner arguments, e.g. -s actors]
#
# CAF_SOURCE_DIR: CAF 0.17.6's sources (git clone --branch 0.17.6
# https://github.com/actor-framework/actor-framework). Builds go to
# build-tsan-caf/ (installed into build-tsan-caf/install) and build-tsan/;
# CAFLENS_TSAN_CAF=PREFIX uses a CAF already built and installed so instead,
# CAFLENS_TSAN_BUILD=DIR another build directory. Needs clang-14
# (scripts/setup.sh installs it).
#
# Runs every suite binary whole, then every process-level test through ctest
# (the cluster demo, CLI, browser, evals, reliability, examples, fuzz
# corpora), all with cmake/tsan.supp and halt_on_error. Every process writes
# its reports to build-tsan/tsan-reports: any report, in a test or in a
# process it started, fails the run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || { echo "usage: scripts/tsan.sh CAF_SOURCE_DIR [-- runner args]" >&2; exit 2; }
caf_src=$(cd "$1" && pwd)
shift
ctest_args=()
if [ "${1:-}" = "--" ]; then shift; ctest_args=("$@"); fi
cd "$root"
bash scripts/setup.sh

# CAF 0.17.6's io misses <limits> with GCC 12's library (Debian patches it).
grep -q '#include <limits>' "$caf_src/libcaf_io/caf/io/network/receive_buffer.hpp" ||
  sed -i '0,/#include <cstddef>/s//#include <cstddef>\n#include <limits>/' \
    "$caf_src/libcaf_io/caf/io/network/receive_buffer.hpp"

export CC=clang-14 CXX=clang++-14
export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
flags="-fsanitize=thread -O1 -g"
jobs=$(nproc)
caf_build="$root/build-tsan-caf"
caf_prefix=${CAFLENS_TSAN_CAF:-$caf_build/install}
build=${CAFLENS_TSAN_BUILD:-$root/build-tsan}
if [ ! -f "$caf_prefix/lib/libcaf_core.so" ]; then
  cmake -S "$caf_src" -B "$caf_build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread \
    -DCMAKE_INSTALL_PREFIX="$caf_prefix" -DCAF_NO_AUTO_LIBCPP=ON \
    -DCAF_NO_EXAMPLES=ON -DCAF_NO_UNIT_TESTS=ON -DCAF_NO_TOOLS=ON \
    -DCAF_NO_PYTHON=ON -DCAF_NO_OPENCL=ON -DCAF_NO_COMPILER_CHECK=ON \
    -DCAF_LOG_LEVEL=QUIET -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
  cmake --build "$caf_build" -j "$jobs"
  cmake --install "$caf_build" >/dev/null
fi
generator=(-G Ninja)
[ -f "$build/CMakeCache.txt" ] && generator=()
cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread \
  -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread \
  -DCAF_ROOT="$caf_prefix" -DCAFLENS_ENABLE_TESTING=ON \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
cmake --build "$build" -j "$jobs"
reports="$build/tsan-reports"
rm -rf "$reports" && mkdir -p "$reports"
# die_after_fork=0: the crash-safety tests fork and kill -9 their children.
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 die_after_fork=0 suppressions=$root/cmake/tsan.supp log_path=$reports/tsan"
failed=0
# Each suite binary whole: under this build CAF's runner matches no suite
# for ctest's anchored `-s '^x\.y$'` filters.
for bin in "$build"/tests/*/caflens-*-test; do
  echo "tsan: $bin"
  "$bin" -n -r 900 "${ctest_args[@]}" || { echo "tsan: FAIL $bin"; failed=1; }
done
# The tests that are processes, not suites of those binaries.
mapfile -t process_tests < <(cd "$build" && ctest -N -V 2>/dev/null | awk '
  /Test command:/ { unit = ($0 ~ /caflens-[a-z_]+-test"? "-n"/) }
  /^ *Test +#[0-9]+:/ { if (!unit) print $3 }')
if [ "${#ctest_args[@]}" -eq 0 ] && [ "${#process_tests[@]}" -gt 0 ]; then
  regex="^($(printf '%s|' "${process_tests[@]}" | sed 's/[.]/\\./g; s/|$//'))$"
  echo "tsan: ${#process_tests[@]} process-level tests"
  (cd "$build" && ctest --output-on-failure -j "$jobs" -R "$regex") || failed=1
fi
if [ -n "$(ls -A "$reports")" ]; then
  for f in "$reports"/*; do echo "== $f"; cat "$f"; done
  echo "tsan: reports above (in $reports)" >&2
  failed=1
fi
exit $failed
