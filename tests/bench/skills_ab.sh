#!/bin/bash
# A/B runs of caflens-skills-bench on a shared, noisy machine.
#
#   tests/bench/skills_ab.sh <log> <binary-a> <binary-b> <pairs> [bench args]
#
# Alternates the two binaries <pairs> times. Each run waits until no compiler
# or test binary runs, and is marked NOISY when other processes used more
# than 3 % of the machine's CPU while it ran (from /proc/stat minus the run's
# own CPU time). Pool the per-round numbers of the OK runs with
# tests/bench/skills_pool.py <log>.
set -u
log=$1; a=$2; b=$3; pairs=$4; shift 4
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
ncpu=$(nproc)
for i in $(seq 1 "$pairs"); do
  for v in a b; do
    bin=$a; [ $v = b ] && bin=$b
    while pgrep -f -- 'cc1plus|collect2|ctest|caflens-.*-test|caflens-eval|caflens demo' >/dev/null; do
      sleep 5
    done
    b0=$(busy); t0=$(date +%s.%N)
    out=$( { /usr/bin/time -f 'TIME %e %U %S' "$bin" "$@"; } 2>&1 )
    b1=$(busy); t1=$(date +%s.%N)
    own=$(echo "$out" | awk '/^TIME/{print $3+$4}')
    other=$(echo "$b0 $b1 $own $t0 $t1 $ncpu" \
      | awk '{o=($2-$1)/100-$3; w=($5-$4)*$6; printf "%.1f", 100*o/w}')
    mark=OK
    awk -v o="$other" 'BEGIN{exit !(o>3)}' && mark=NOISY
    echo "=== $v $(date +%T) other-cpu ${other}% $mark" >> "$log"
    echo "$out" | grep -v '^TIME' >> "$log"
  done
done
