# Shared by the tmux tests (sourced): a session named after the caller, a
# live demo node, checks that count failures, and pane waits.
#   session=NAME; source tmux_support.sh; start_node SCENARIO
# Defines: dir (removed at exit), node_pid, addr, fails, check, pane, await.
dir=$(mktemp -d)
node_pid=
fails=0
cleanup() {
  tmux kill-session -t "$session" 2>/dev/null
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
check() {
  local what=$1; shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}
# The pane with its scrollback (200 lines), wrapped lines joined.
pane() { tmux capture-pane -p -J -S -200 -t "$session"; }
# Waits (up to 30 s) until the pane matches the regex; fails otherwise.
await() {
  for _ in $(seq 300); do
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
  for _ in $(seq 300); do grep -q listening "$dir/node.out" && break; sleep 0.1; done
  addr=$(awk '/listening/ {print $2}' "$dir/node.out")
  check "the node listens" test -n "$addr"
}
