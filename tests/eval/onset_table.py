#!/usr/bin/env python3
"""Fault onset -> insight per scenario, from the logs of caflens-market runs.

Usage: tests/eval/onset_table.py build/tests/eval/market   (caflens-market)
       tests/eval/onset_table.py build/tests/eval          (the demo)
(the --logs directories of `ctest -R eval.market` and `ctest -R eval.scenarios`). Prints a Markdown table with
the median over the runs of each scenario: time from the fault's injection to
the trigger (the application's alert, or the scheduled check of a control),
the investigation's duration, and their sum.
"""
import collections
import glob
import os
import re
import statistics
import sys


def main(directory):
    rows = collections.defaultdict(list)
    for path in sorted(glob.glob(os.path.join(directory, "eval-*.log"))):
        m = re.match(r"eval-(?:market-)?(.*?)(\.r\d+)?\.log$",
                     os.path.basename(path))
        text = open(path, encoding="utf-8", errors="replace").read()
        alert = re.search(r"ALERT after (\d+) ms", text)
        sched = re.search(r"scheduled check after (\d+) ms", text)
        inv = re.search(r"investigation done in (\d+) ms", text)
        if not m or not inv or not (alert or sched):
            continue
        trigger = int((alert or sched).group(1))
        rows[m.group(1)].append(
            (trigger, int(inv.group(1)), "alert" if alert else "scheduled"))
    print("| scenario | trigger | fault → trigger (ms) | investigation (ms) "
          "| fault → insight (ms) |")
    print("|---|---|---|---|---|")
    for name, xs in rows.items():
        med = lambda v: int(statistics.median(v))
        print(f"| {name} | {xs[0][2]} | {med([x[0] for x in xs])} "
              f"| {med([x[1] for x in xs])} | {med([x[0] + x[1] for x in xs])} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build/tests/eval/market")
