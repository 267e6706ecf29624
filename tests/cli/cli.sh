#!/usr/bin/env bash
# The caflens command line as a script uses it: exit codes, one-line usage
# errors, the --json envelope, and demo -> history -> show over one store.
#   cli.sh CAFLENS_BINARY
set -uo pipefail
bin=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fails=0
# Under TSan (CAFLENS_TEST_SANITIZER, set by the build: see
# caflens_sanitizer_aware in tests/CMakeLists.txt) the demo runs many times
# slower and backs up where the sanitizer slows it most: the checks then
# take the diagnosis the demo printed, whatever it names, and check that
# the store and the commands reading it agree with it.
sanitized=${CAFLENS_TEST_SANITIZER:-}
check() { # description, then a command that must succeed
  local what=$1; shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}
rc_of() { "$@" >"$dir/out" 2>"$dir/err"; echo $?; }
json_field() { # file, python expression over `d` (the parsed document)
  python3 -c "import json,sys; d=json.load(open('$1')); print($2)"
}

check "--help exits 0 and lists the commands" \
  test "$(rc_of "$bin" --help)" = 0
check "  ... every command" bash -c "grep -q 'history' '$dir/out' && grep -q 'investigate' '$dir/out'"
check "an unknown command exits 2" test "$(rc_of "$bin" frobnicate)" = 2
check "  ... and is named in one line" \
  bash -c "grep -q \"unknown command 'frobnicate'\" '$dir/err'"
check "a bad option value exits 2" test "$(rc_of "$bin" demo --nodes 9)" = 2
check "  ... naming the option" bash -c "grep -q -- '--nodes' '$dir/err'"
check "an unknown scenario exits 2" \
  test "$(rc_of "$bin" demo --scenario nope)" = 2
check "investigate without --node exits 2" \
  test "$(rc_of "$bin" investigate "why")" = 2
check "every command has --help" bash -c "
  for c in demo investigate node top nodes events history show; do
    '$bin' \$c --help >/dev/null || exit 1
  done"

check "events --json is the versioned envelope" \
  test "$(rc_of "$bin" events --json caflens.investigation)" = 0
cp "$dir/out" "$dir/events.json"
check "  ... version 1, command events" \
  test "$(json_field "$dir/events.json" "d['caflens_cli'], d['command']")" = "1 events"
check "  ... only the prefix asked for" \
  test "$(json_field "$dir/events.json" "sorted(e['event'] for e in d['data'])")" \
    = "['caflens.investigation.exception', 'caflens.investigation.start', 'caflens.investigation.stop']"

check "history without a store exits 1" \
  test "$(CAFLENS_STORE= rc_of "$bin" history)" = 1
check "  ... saying how to give one" bash -c "grep -q 'CAFLENS_STORE' '$dir/err'"

# One demo kept in a store, then read back.
check "demo --store keeps its investigation" \
  test "$(rc_of "$bin" demo --quiet --scenario crash_loop --store "$dir/demo.db")" = 0
# The report's first insight: "1. [severity] PATTERN — culprit NAME (...)".
found=$(sed -nE 's/^1\. \[[a-z]+\] ([a-z_]+) — culprit ([^ ]+).*/\1 \2/p' "$dir/out")
echo "     the demo's diagnosis: ${found:-none}"
if [ -n "$sanitized" ]; then
  check "  ... and prints a diagnosis with a culprit ($CAFLENS_TEST_SANITIZER)" test -n "$found"
else
  check "  ... and prints the culprit" test "$found" = "crash_loop worker-3"
fi
check "history lists it" \
  test "$(rc_of "$bin" history --store "$dir/demo.db" --json)" = 0
cp "$dir/out" "$dir/history.json"
check "  ... with the printed pattern and culprit, and its alert trigger" \
  test "$(json_field "$dir/history.json" "len(d['data']), d['data'][0]['pattern'], d['data'][0]['culprit'], d['data'][0]['trigger']")" \
    = "1 $found alert"
trace=$(json_field "$dir/history.json" "d['data'][0]['trace_id']")
culprit=${found#* }
count_for_culprit() {
  CAFLENS_STORE="$dir/demo.db" "$bin" history --culprit "$1" --json |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)["data"]))'
}
check "history filters by culprit: the culprit's investigation" \
  test "$(count_for_culprit "${culprit:-none}")" = 1
check "  ... and none for another actor" \
  test "$(count_for_culprit "nobody-$$")" = 0
check "show prints the stored report" \
  test "$(CAFLENS_STORE="$dir/demo.db" rc_of "$bin" show "$trace")" = 0
check "  ... naming the pattern and the stored timeline" \
  bash -c "grep -q -- '${found% *} — culprit ${culprit}' '$dir/out' && grep -q 'timeline events' '$dir/out'"
check "show --json has the result, snapshots and timeline" \
  test "$(rc_of "$bin" show "$trace" --store "$dir/demo.db" --json)" = 0
cp "$dir/out" "$dir/show.json"
check "  ... of that trace" \
  test "$(json_field "$dir/show.json" "d['data']['result']['trace_id'] == '$trace' and len(d['data']['snapshots']) > 0 and len(d['data']['timeline']) > 0")" = True
check "show of an unknown trace exits 3" \
  test "$(rc_of "$bin" show 00000000000000000000000000000000 --store "$dir/demo.db")" = 3

echo "$fails failed"
[ "$fails" -eq 0 ]
