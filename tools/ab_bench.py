#!/usr/bin/env python3
"""Interleaved A/B of weft benchmark binaries (e.g. a build of an earlier commit against the
current one): every round runs each binary once, in a fresh process, in alternating order, and
the figures are medians of all samples with their 10th and 90th percentiles.

tools/bench_compare.py compares weft with tokio on every workload; this compares two or more
weft binaries on a few workloads with many more processes, for rows whose samples fall into
modes that a process keeps (chained_spawn: the main thread and the chain's worker on one CPU
or on two; see BENCHMARKS.md), where a median over few processes moves with the mix.

Usage: tools/ab_bench.py [--rounds N] [--reps N] [--pin CPU] --only NAME,... LABEL=PATH LABEL=PATH...
Ratios are against the first LABEL. Example (the commit before issue 11 against this one):
  tools/ab_bench.py --only chained_spawn,yield_many pre11=build/variants/pre11_system \\
      now=build/release/bench/weft_bench_system
"""
import argparse
import os
import statistics
import sys

from bench_compare import run_weft  # the same processes and parsing as tools/bench


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--pin", type=int, default=None, help="run every process on this CPU only")
    ap.add_argument("--only", required=True, help="workload names, comma-separated")
    ap.add_argument("binaries", nargs="+", metavar="LABEL=PATH")
    a = ap.parse_args()
    bins = dict(b.split("=", 1) for b in a.binaries)
    labels = list(bins)
    names = a.only.split(",")
    if a.pin is not None:
        os.sched_setaffinity(0, {a.pin})  # inherited by every benchmark process
    res = {}
    for r in range(a.rounds):
        for lab in (labels if r % 2 == 0 else labels[::-1]):
            for name, ns, units, _ in run_weft(bins[lab], names, a.reps, may_lack=True):
                res.setdefault(name, {}).setdefault(lab, []).append(ns / units)
    print(f"{a.rounds} rounds x {a.reps} samples per binary, ns per unit: median (p10..p90)"
          + ("" if a.pin is None else f", pinned to CPU {a.pin}"))
    print("| workload | " + " | ".join(labels) + " | " + " | ".join(f"{l} / {labels[0]}" for l in labels[1:]) + " |")
    print("|---" * (2 * len(labels)) + "|")
    for name, d in res.items():
        if any(lab not in d for lab in labels):
            print(f"(skipping {name}: not in every binary)", file=sys.stderr)
            continue
        meds = [statistics.median(d[lab]) for lab in labels]
        cells = [f"{m:,.1f} ({pct(d[lab], 0.1):,.1f}..{pct(d[lab], 0.9):,.1f})" for m, lab in zip(meds, labels)]
        print(f"| {name} | " + " | ".join(cells) + " | " + " | ".join(f"{m / meds[0]:.2f}" for m in meds[1:]) + " |")


if __name__ == "__main__":
    main()
