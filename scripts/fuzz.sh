#!/usr/bin/env bash
# Runs caflens's libFuzzer targets (RELIABILITY.md, "Hostile input").
#   scripts/fuzz.sh [--seconds N] [--jobs J] [--merge] [TARGET...]
# Builds them with clang, ASan and UBSan in build-fuzz/ (first run: a
# while), then runs each TARGET (default: all) for N seconds (default 600),
# J at a time (default 1), starting from its committed corpus
# tests/fuzz/corpus/<target>; new inputs go to build-fuzz/corpus-<target>.
# --merge then adds the inputs that reach new code to the committed corpus
# (libFuzzer's -merge=1). A crash stops that target and leaves crash-* /
# leak-* / timeout-* files in build-fuzz/ with the reproducer's path.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

seconds=600
jobs=1
merge=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift ;;
    --jobs) jobs=$2; shift ;;
    --merge) merge=1 ;;
    -*) echo "fuzz.sh: unknown option '$1'" >&2; exit 2 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
all=(sandbox_lua sandbox_json llm_stream llm_response tool_args config
     node_message dashboard_http)
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
declare -A dict=([sandbox_lua]=lua.dict [sandbox_json]=json.dict
                 [llm_response]=json.dict [tool_args]=json.dict
                 [config]=config.dict [dashboard_http]=http.dict)

export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=1
if [ ! -f build-fuzz/CMakeCache.txt ]; then
  launcher=()
  command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCAFLENS_ENABLE_FUZZERS=ON \
    -DCAFLENS_ENABLE_SANITIZERS=ON "${launcher[@]}" >/dev/null
fi
build_targets=()
for t in "${targets[@]}"; do build_targets+=("caflens-${t}_fuzzer"); done
cmake --build build-fuzz -j "$(nproc)" --target "${build_targets[@]}"

export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$root/cmake/sanitizers.supp"
run() {
  local t=$1 scratch=$root/build-fuzz/corpus-$1 d=() rc=0
  mkdir -p "$scratch"
  [ -n "${dict[$t]:-}" ] && d=(-dict="$root/tests/fuzz/${dict[$t]}")
  (cd build-fuzz && "tests/fuzz/caflens-${t}_fuzzer" \
     -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
     -print_final_stats=1 "${d[@]}" "$scratch" "$root/tests/fuzz/corpus/$t") \
    > "build-fuzz/fuzz-$t.log" 2>&1 || rc=$?
  echo "$t: exit $rc, $(grep -E '^stat::number_of_executed_units' \
    "build-fuzz/fuzz-$t.log" | awk '{print $2}') runs, log build-fuzz/fuzz-$t.log"
  if [ $rc -eq 0 ] && [ $merge -eq 1 ]; then
    "build-fuzz/tests/fuzz/caflens-${t}_fuzzer" -merge=1 \
      "tests/fuzz/corpus/$t" "$scratch" > "build-fuzz/merge-$t.log" 2>&1 || rc=$?
  fi
  return $rc
}
status=0
running=0
for t in "${targets[@]}"; do
  run "$t" &
  running=$((running + 1))
  if [ $running -ge "$jobs" ]; then
    wait -n || status=1
    running=$((running - 1))
  fi
done
while [ $running -gt 0 ]; do
  wait -n || status=1
  running=$((running - 1))
done
exit $status
