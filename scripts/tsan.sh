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
# every test binary runs with cmake/tsan.supp and halt_on_error, so any
# report fails it. Needs clang-14 (scripts/setup.sh installs it).
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
if [ ! -f "$caf_build/install/lib/libcaf_core.so" ]; then
  cmake -S "$caf_src" -B "$caf_build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread \
    -DCMAKE_INSTALL_PREFIX="$caf_build/install" -DCAF_NO_AUTO_LIBCPP=ON \
    -DCAF_NO_EXAMPLES=ON -DCAF_NO_UNIT_TESTS=ON -DCAF_NO_TOOLS=ON \
    -DCAF_NO_PYTHON=ON -DCAF_NO_OPENCL=ON -DCAF_NO_COMPILER_CHECK=ON \
    -DCAF_LOG_LEVEL=QUIET -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
  cmake --build "$caf_build" -j "$jobs"
  cmake --install "$caf_build" >/dev/null
fi
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread \
  -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread \
  -DCAF_ROOT="$caf_build/install" -DCAFLENS_ENABLE_TESTING=ON \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
cmake --build build-tsan -j "$jobs"
# die_after_fork=0: the crash-safety tests fork and kill -9 their children.
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 die_after_fork=0 suppressions=$root/cmake/tsan.supp"
# Each suite binary whole: under this build CAF's runner matches no suite
# for ctest's anchored `-s '^x\.y$'` filters. Any report fails its binary.
failed=0
for bin in build-tsan/tests/*/caflens-*-test; do
  echo "tsan: $bin"
  "$bin" -n -r 900 "${ctest_args[@]}" || { echo "tsan: FAIL $bin"; failed=1; }
done
exit $failed
