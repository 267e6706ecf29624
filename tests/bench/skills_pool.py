#!/usr/bin/env python3
"""Pools the per-round numbers of skills_ab.sh logs (runs marked OK only).

usage: skills_pool.py <log>...

Per binary (a, b) and workload: processes, paired rounds, medians of the
per-process throughput medians, and the median per-round loss and CPU cost
with a bootstrap 95 % confidence interval of the median.
"""
import random
import statistics as st
import sys

data = {}
for path in sys.argv[1:]:
    variant, ok, workload = None, False, None
    for line in open(path):
        if line.startswith("==="):
            variant, ok = line.split()[1], line.strip().endswith("OK")
        elif not ok:
            continue
        elif line.startswith(("fan-in", "ping-pong")):
            f = line.split()
            workload = f[0]
            d = data.setdefault((variant, workload),
                                {"loss": [], "cpu": [], "u": [], "t": []})
            d["u"].append(float(f[2]))
            d["t"].append(float(f[6]))
        elif "per-round loss" in line:
            data[(variant, workload)]["loss"] += map(float, line.split(":")[1].split())
        elif "per-round CPU" in line:
            data[(variant, workload)]["cpu"] += map(float, line.split(":")[1].split())


def ci(xs, n=2000):
    random.seed(1)
    ms = sorted(st.median(random.choices(xs, k=len(xs))) for _ in range(n))
    return ms[int(0.025 * n)], ms[int(0.975 * n)]


for (variant, workload), d in sorted(data.items()):
    loss, cpu = d["loss"], d["cpu"]
    q = st.quantiles(loss, n=4)
    print(f"{workload} {variant}: {len(d['u'])} processes, {len(loss)} rounds; "
          f"untracked {st.median(d['u']):.2f} M msg/s, tracked "
          f"{st.median(d['t']):.2f} M msg/s; loss median {st.median(loss):.1f} % "
          f"(95 % CI {ci(loss)[0]:.1f} .. {ci(loss)[1]:.1f}, quartiles "
          f"{q[0]:.1f} .. {q[2]:.1f}); CPU/msg cost median "
          f"{st.median(cpu):+.1f} % (95 % CI {ci(cpu)[0]:.1f} .. {ci(cpu)[1]:.1f})")
