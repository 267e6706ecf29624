# Shared by the tmux tests (sourced): a session named after the caller, a
# live demo node, checks that count failures, and pane waits.
#   session=NAME; source tmux_support.sh; start_node SCENARIO
# Defines: dir (removed at exit), node_pid, addr, fails, check, pane, await.
dir=$(mktemp -d)
# Under TSan (CAFLENS_TEST_SANITIZER, set by the build: see
# caflens_sanitizer_aware in tests/CMakeLists.txt) the node runs many times
# slower and backs up where the sanitizer slows it most, not at the injected
# fault: `fault NAME PATTERN` gives the regex a check expects where the
# fault's actor shows, NAME, or then PATTERN (any actor); waits are 4 times
# as long.
sanitized=${CAFLENS_TEST_SANITIZER:-}
polls=300
[ -n "$sanitized" ] && polls=1200
fault() { if [ -n "$sanitized" ]; then printf '%s' "$2"; else printf '%s' "$1"; fi; }
node_pid=
fails=0
cleanup() {
  tmux kill-session -t "$session" 2>/dev/null
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
# The tmux server outlives this script when it is killed (ctest's timeout
# kills the script and its children, and the trap above never runs): a
# watchdog outside the script's process tree ends the session then.
( setsid bash -c "while kill -0 $$ 2>/dev/null; do sleep 1; done
  tmux kill-session -t '$session' 2>/dev/null" </dev/null >/dev/null 2>&1 & )
check() {
  local what=$1; shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}
# The pane with its scrollback (200 lines), wrapped lines joined.
pane() { tmux capture-pane -p -J -S -200 -t "$session"; }
# Waits (up to 30 s, 120 s under a sanitizer) until the pane matches the
# regex; fails otherwise.
await() {
  for _ in $(seq "$polls"); do
    pane | grep -qE -- "$1" && return 0
    sleep 0.1
  done
  echo "--- pane:"; pane | tail -30; echo "---"
  return 1
}
# Starts `caflens node` with SCENARIO injected after 300 ms; sets addr.
start_node() {
  "$bin" node --scenario "$1" --inject-after-ms 300 >"$dir/node.out" 2>"$dir/node.err" &
  node_pid=$!
  for _ in $(seq "$polls"); do grep -q listening "$dir/node.out" && break; sleep 0.1; done
  addr=$(awk '/listening/ {print $2}' "$dir/node.out")
  check "the node listens" test -n "$addr"
}
