"""Nsight Compute's CSV (`ncu --csv --metrics gpu__time_duration.sum`) of a process that ran the same graph several
times in a row -> the last run's GPU time per kernel name.  The last run is found as the longest tail whose kernel
sequence repeats right before it.

    python3 exporter/ncu_summary.py /root/ncu.csv [--top 25]
"""
import argparse
import csv
import sys
from collections import defaultdict


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--top", type=int, default=25)
    a = ap.parse_args(argv)
    lines = open(a.csv, encoding="utf-8", errors="replace").read().splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith('"ID"'))
    rows = [r for r in csv.DictReader(lines[start:]) if r.get("Metric Name") == "gpu__time_duration.sum"]
    names = [r["Kernel Name"] for r in rows]
    ns = [float(r["Metric Value"].replace(",", "")) * (1000 if r["Metric Unit"] == "usecond" else
                                                        1e6 if r["Metric Unit"] == "msecond" else 1) for r in rows]
    period = next((n for n in range(len(names) // 2, 0, -1) if names[-n:] == names[-2 * n:-n]), 0)
    if period == 0:
        print(f"{len(names)} kernels, no repeating tail found")
        return 1
    per = defaultdict(lambda: [0, 0.0])
    for name, t in zip(names[-period:], ns[-period:]):
        key = name.split("(")[0][:100]
        per[key][0] += 1
        per[key][1] += t
    total = sum(t for _, t in per.values())
    print(f"{len(names)} kernels profiled; last run {period} kernels, {total / 1e6:.2f} ms of GPU time")
    for k, (n, t) in sorted(per.items(), key=lambda kv: -kv[1][1])[: a.top]:
        print(f"{t / 1e6:8.2f} ms  x{n:<4d} {k}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
