#!/usr/bin/env bash
# `caflens shell` in a real terminal (tmux) against a live node: expressions
# print their value, multi-line chunks, errors and the sandbox's limits as
# one line, .help lists the node's functions, history recalls an entry
# (and is kept in a file), Ctrl-D leaves with exit 0. Then as scripts use
# it: stdin lines, -e, --json.
#   shell_tmux.sh CAFLENS_BINARY
set -uo pipefail
bin=$1
session="caflens-shell-$$"
source "$(dirname "$0")/tmux_support.sh"

# Types one line and waits until the shell reads again: the last line of
# the pane is an empty prompt (libedit drops keys typed ahead of it).
typed=0
send() {
  tmux send-keys -t "$session" -l -- "$1"
  tmux send-keys -t "$session" Enter
  typed=$((typed + 1))
  for _ in $(seq "$polls"); do
    local n
    n=$(pane | grep -cE '^(caflens@node-[^>]*|>)> ')
    [ "$n" -gt "$typed" ] && pane | grep -v '^$' | tail -1 | grep -qE '^(caflens@node-[^>]*|>)> $' && return 0
    sleep 0.1
  done
  return 0
}

start_node slow_consumer

tmux new-session -d -s "$session" -x 150 -y 45 \
  "CAFLENS_SHELL_HISTORY='$dir/history' '$bin' shell $addr; echo EXIT=\$?; sleep 60"
check "the shell greets with the node's prompt" await "caflens@node-[^>]*> "
# Give the fault time to build a backlog, then ask for the deepest mailbox.
sleep 1
send 'actors_top(1)[1].name'
check "an expression prints its value (the slow consumer)" \
  await "^\"$(fault worker-2 '[^"]+')\""
send 'for i = 1, 3 do'
check "an incomplete chunk asks for more" await '^>> '
send 'print("line " .. i * 10)'
send 'end'
check "  ... and runs once complete" await '^line 30'
send 'no_such_function()'
check "an error is one line" await "^error: .*no_such_function"
send 'while true do end'
check "the sandbox stops a runaway loop" await "^error: .*(instruction|time)"
send '.help'
check ".help lists the node's functions" await "actors_top.*|actor_state"
check "  ... from every skill" await "supervision_trees"
tmux send-keys -t "$session" Up
check "Up recalls the last entry" await "caflens@node-[^>]*> \.help"
tmux send-keys -t "$session" C-u C-d
check "Ctrl-D leaves with exit 0" await "^EXIT=0"
check "the history is kept in its file" grep -q "actors_top(1)\[1\].name" "$dir/history"

# Scripts: stdin lines, -e, --json, exit codes.
printf 'x = 6\nreturn x * 7\n' | "$bin" shell "$addr" >"$dir/stdin.out" 2>&1
check "stdin: each line an entry (locals do not carry over)" grep -q "attempt to perform arithmetic" "$dir/stdin.out"
printf 'for i = 1, 2 do\nprint("n" .. i)\nend\n' | "$bin" shell "$addr" >"$dir/stdin2.out" 2>&1
check "stdin: a chunk may span lines" test "$(tr '\n' ' ' <"$dir/stdin2.out")" = "n1 n2 "
"$bin" shell "$addr" -e 'actors_count()' --json >"$dir/e.json"
check "-e --json: the value in the envelope" \
  test "$(python3 -c "import json; d=json.load(open('$dir/e.json')); print(d['command'], d['data']['value']['upload_worker'])")" = "shell 4"
"$bin" shell "$addr" -e 'error("boom")' >"$dir/err.out" 2>&1
check "-e: an error exits 1" test $? = 1
check "  ... and says why" grep -q "boom" "$dir/err.out"
"$bin" shell 127.0.0.1:1 -e '1' >"$dir/down.out" 2>&1
check "no node: exit 1" test $? = 1
check "the node was left running" kill -0 "$node_pid"

echo "$fails failed"
[ "$fails" -eq 0 ]
