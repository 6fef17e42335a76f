#!/usr/bin/env python3
"""Turns Google Benchmark JSON output into weft's summary table.

Usage: bench_table.py RESULT.json [RESULT.json...] [--markdown]
Prints one row per benchmark: the median (over repetitions) of its ns-per-unit counter,
and the spread (min..max of the repetitions) so noisy runs are visible.
"""
import json
import sys
from collections import defaultdict

UNIT_COUNTERS = ("ns_per_task", "ns_per_yield", "ns_per_spawn", "ns_per_round_trip",
                 "ns_per_msg", "ns_per_item", "ns_per_op")


def load(paths):
    reps = defaultdict(list)  # (name, counter) -> values in ns
    ctx = None
    for p in paths:
        with open(p) as f:
            data = json.load(f)
        ctx = ctx or data.get("context", {})
        for b in data.get("benchmarks", []):
            if b.get("run_type") == "aggregate" and b.get("aggregate_name") not in ("median", "min", "max"):
                continue
            name = b.get("run_name", b["name"]).replace("/real_time", "")
            if name.startswith("streammap_"):
                continue  # tools/plot_streammap.py prints these
            for c in UNIT_COUNTERS:
                if c in b:
                    key = (name, c)
                    if b.get("run_type") == "aggregate":
                        reps[key + (b["aggregate_name"],)].append(b[c] * 1e9)
                    else:
                        reps[key + ("rep",)].append(b[c] * 1e9)
    rows = []
    names = sorted({k[:2] for k in reps}, key=lambda k: list(dict.fromkeys(x[:2] for x in reps)).index(k))
    for name, c in names:
        vals = reps.get((name, c, "rep"), [])
        if vals:
            vals.sort()
            med = vals[len(vals) // 2] if len(vals) % 2 else (vals[len(vals) // 2 - 1] + vals[len(vals) // 2]) / 2
            lo, hi = vals[0], vals[-1]
        else:
            med = reps.get((name, c, "median"), [float("nan")])[0]
            lo = min(reps.get((name, c, "min"), [med]))
            hi = max(reps.get((name, c, "max"), [med]))
        rows.append((name, c.replace("ns_per_", ""), med, lo, hi))
    return rows, ctx


VARIANTS = {"moodycamel/": "injection queue: moodycamel ConcurrentQueue vs weft's own (Vyukov MPSC)",
            "sysalloc/": "frame allocator: system malloc vs mimalloc",
            "naive_": "naive JoinSet + mutex + unordered_map vs weft's JoinMap"}


def main(argv):
    md = "--markdown" in argv
    suffix = next((a.split("=", 1)[1] for a in argv if a.startswith("--suffix=")), "")
    paths = [a + suffix for a in argv if not a.startswith("--")]
    rows, ctx = load(paths)
    if ctx:
        print(f"# {ctx.get('host_name', '?')}: {ctx.get('num_cpus', '?')} CPUs, "
              f"{ctx.get('date', '')}, library build {ctx.get('library_build_type', '?')}")
    if md:
        print("| benchmark | unit | median ns/unit | spread (min..max) |")
        print("|---|---|---:|---|")
        for n, u, m, lo, hi in rows:
            print(f"| {n} | {u} | {m:,.1f} | {lo:,.1f}..{hi:,.1f} |")
    else:
        w = max([len(r[0]) for r in rows] + [9])
        print(f"{'benchmark':<{w}}  {'unit':<12} {'median ns':>12}  spread")
        for n, u, m, lo, hi in rows:
            print(f"{n:<{w}}  {u:<12} {m:>12,.1f}  {lo:,.1f}..{hi:,.1f}")
    base = {r[0]: r[2] for r in rows}
    ratios = []
    for n, u, m, lo, hi in rows:
        for prefix, what in VARIANTS.items():
            if n.startswith(prefix) and n[len(prefix):] in base:
                ratios.append((what, n[len(prefix):], m / base[n[len(prefix):]]))
    if ratios:
        print()
        print("Ratios within this run (variant / default; above 1 means the default is faster):")
        for what, n, r in ratios:
            print(f"  {what}: {n}: {r:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
