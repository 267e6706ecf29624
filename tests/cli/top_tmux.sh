#!/usr/bin/env bash
# `caflens top` in a real terminal (tmux): against a live node with a slow
# consumer it shows the culprit first, sorts and filters on keys, and `q`
# quits with exit 0, leaving the terminal as it was (alternate screen off).
#   top_tmux.sh CAFLENS_BINARY
set -uo pipefail
bin=$1
session="caflens-top-$$"
source "$(dirname "$0")/tmux_support.sh"

start_node slow_consumer

tmux new-session -d -s "$session" -x 150 -y 45 \
  "echo before-top; '$bin' top $addr --interval-ms 500; echo EXIT=\$?; sleep 60"
check "top draws its header" await "caflens top — node-"
check "  ... in the alternate screen" bash -c "! tmux capture-pane -p -t '$session' | grep -q before-top"
check "the slow consumer leads the mailbox sort" \
  await "^ +[0-9]+  $(fault 'worker-2\*? +upload_worker' '[^ ]+ +[^ ]+') +[0-9]{3,}"
check "the supervision pane shows upload_sup" await "upload_sup \(one_for_one"
tmux send-keys -t "$session" s
check "s sorts by rate" await "sort: rate "
tmux send-keys -t "$session" / w o r k e r - 3 Enter
check "/ filters" await "filter: worker-3 "
check "  ... to the matching actor only" \
  bash -c "tmux capture-pane -p -t '$session' | grep -E '^ +[0-9]+  ' | grep -v worker-3 | wc -l | grep -qx 0"
tmux send-keys -t "$session" t
check "t hides the supervision pane" bash -c "
  for _ in \$(seq $polls); do
    tmux capture-pane -p -t '$session' | grep -q '^supervision' || exit 0
    sleep 0.1
  done; exit 1"
tmux send-keys -t "$session" q
check "q quits with exit 0" await "EXIT=0"
check "  ... and restores the terminal" \
  bash -c "tmux capture-pane -p -t '$session' | grep -q before-top && ! tmux capture-pane -p -t '$session' | grep -q 'caflens top —'"
check "the node was left running" kill -0 "$node_pid"

# For scripts: --json once, in the envelope; --once one frame with rates.
"$bin" top "$addr" --json >"$dir/top.json"
check "top --json gives the node's actors and trees" \
  test "$(python3 -c "import json; d=json.load(open('$dir/top.json')); print(d['command'], d['data']['actors']['count'] > 0, len(d['data']['supervision']['trees']) > 0)")" = "top True True"
"$bin" top "$addr" --once --sort mailbox >"$dir/top.txt"
check "top --once prints one frame, the slow consumer first" \
  bash -c "grep -E '^ +[0-9]+  ' '$dir/top.txt' | head -1 | grep -qE '^ +[0-9]+  $(fault worker-2 '[^ ]+')'"

# caflens investigate over the same node: progress on stderr, the report on
# stdout; --quiet keeps stderr empty.
"$bin" investigate --node "$addr" "uploads back up" >"$dir/inv.out" 2>"$dir/inv.err"
check "investigate names the slow consumer" \
  grep -qE "$(fault 'slow_consumer — culprit worker-2' '[a-z_]+ — culprit [^ ]+')" "$dir/inv.out"
check "  ... with progress lines while it runs" grep -q "coordinator: investigation .* started" "$dir/inv.err"
"$bin" investigate -q --node "$addr" "uploads back up" >"$dir/inv.out" 2>"$dir/inv.err"
check "  ... and none with --quiet" test ! -s "$dir/inv.err"

# caflens nodes over the same node, and one where nothing listens.
"$bin" nodes "$addr" --json >"$dir/nodes.json"
check "nodes shows it connected with its skills" \
  test "$(python3 -c "import json; d=json.load(open('$dir/nodes.json'))['data'][0]; print(d['state'], 'actors' in d['skills'])")" = "connected True"
"$bin" nodes "$addr" 127.0.0.1:1 >"$dir/nodes.txt" 2>&1
check "a node that does not answer exits 1" test $? = 1
check "  ... and is listed as unreachable" grep -q "127.0.0.1:1  -  unreachable" "$dir/nodes.txt"

echo "$fails failed"
[ "$fails" -eq 0 ]
