#!/usr/bin/env python3
"""StreamMap comparison: table and log-log plot from Google Benchmark JSON.

Usage: plot_streammap.py RESULT.json [--svg OUT.svg] [--markdown]
Reads the streammap_* rows (median of repetitions, or the single run), prints ns/item
against N for both maps with the vec/ready ratio, each map's 65,536-vs-16 ratio, the
crossover (if any) and churn; writes a log-log SVG of ns/item against N (no dependencies).
"""
import json
import math
import re
import sys
from collections import defaultdict

ROW = re.compile(r"streammap_(one_active|all_active|churn)/(vec_scan|ready_set)/N:(\d+)")


def load(path):
    with open(path) as f:
        data = json.load(f)
    reps = defaultdict(list)
    for b in data.get("benchmarks", []):
        if b.get("run_type") == "aggregate":
            continue
        m = ROW.search(b.get("run_name", b["name"]))
        if not m:
            continue
        val = b.get("ns_per_item", b.get("ns_per_op"))
        if val is not None:
            reps[(m.group(1), m.group(2), int(m.group(3)))].append(val * 1e9)
    med = {}
    for k, v in reps.items():
        v.sort()
        n = len(v)
        med[k] = v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2
    return med


def fmt(x):
    return f"{x:,.0f}" if x >= 100 else f"{x:,.1f}"


def table(med, md):
    out = []
    for wl in ("one_active", "all_active"):
        ns = sorted({k[2] for k in med if k[0] == wl})
        if not ns:
            continue
        out.append(f"streammap_{wl} (ns per item):")
        if md:
            out.append("| N | vec_scan | ready_set | vec_scan / ready_set |")
            out.append("|---:|---:|---:|---:|")
        else:
            out.append(f"{'N':>8} {'vec_scan':>14} {'ready_set':>12} {'vec/ready':>10}")
        for n in ns:
            v, r = med.get((wl, "vec_scan", n)), med.get((wl, "ready_set", n))
            ratio = v / r if v and r else float("nan")
            if md:
                out.append(f"| {n:,} | {fmt(v)} | {fmt(r)} | {ratio:.2f} |")
            else:
                out.append(f"{n:>8} {fmt(v):>14} {fmt(r):>12} {ratio:>10.2f}")
        lo, hi = ns[0], ns[-1]
        for mp in ("vec_scan", "ready_set"):
            a, b = med.get((wl, mp, lo)), med.get((wl, mp, hi))
            if a and b:
                out.append(f"  {mp}: N={hi:,} costs {b / a:.2f}x N={lo:,} per item")
        cross = [n for n in ns if med.get((wl, "vec_scan", n), 0) > med.get((wl, "ready_set", n), math.inf)]
        faster_small = med.get((wl, "vec_scan", lo), math.inf) < med.get((wl, "ready_set", lo), 0)
        if faster_small and cross:
            out.append(f"  crossover: vec_scan is faster at N={lo:,}; ready_set is faster from N={cross[0]:,}")
        elif cross and cross[0] == lo:
            out.append("  crossover: none, ready_set is faster at every N measured")
        else:
            out.append("  crossover: none in the measured range")
        out.append("")
    for mp in ("vec_scan", "ready_set"):
        for (wl, m, n), v in med.items():
            if wl == "churn" and m == mp:
                out.append(f"streammap_churn (N={n:,}) {mp}: {fmt(v)} ns per op")
    return "\n".join(out)


def svg(med, path):
    W, H, L, R, T, B = 720, 460, 80, 190, 30, 60
    pts = {k: v for k, v in med.items() if k[0] != "churn"}
    if not pts:
        return
    xs = [k[2] for k in pts]
    ys = list(pts.values())
    x0, x1 = math.log10(min(xs)), math.log10(max(xs))
    y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    px = lambda x: L + (math.log10(x) - x0) / ((x1 - x0) or 1) * (W - L - R)
    py = lambda y: H - B - (math.log10(y) - y0) / ((y1 - y0) or 1) * (H - T - B)
    e = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{W/2 - 80}" y="18" font-size="14">StreamMap: ns per item vs N (log-log)</text>']
    for d in range(y0, y1 + 1):
        y = py(10 ** d)
        e.append(f'<line x1="{L}" y1="{y:.1f}" x2="{W-R}" y2="{y:.1f}" stroke="#ddd"/>')
        e.append(f'<text x="{L-8}" y="{y+4:.1f}" text-anchor="end">1e{d}</text>')
    for n in sorted(set(xs)):
        x = px(n)
        e.append(f'<line x1="{x:.1f}" y1="{T}" x2="{x:.1f}" y2="{H-B}" stroke="#eee"/>')
        e.append(f'<text x="{x:.1f}" y="{H-B+18}" text-anchor="middle">{n:,}</text>')
    e.append(f'<text x="{(L + W - R)/2}" y="{H-15}" text-anchor="middle">N (streams in the map)</text>')
    e.append(f'<text x="18" y="{(T + H - B)/2}" transform="rotate(-90 18 {(T + H - B)/2})" text-anchor="middle">ns per item</text>')
    styles = {("one_active", "vec_scan"): ("#d62728", ""), ("one_active", "ready_set"): ("#1f77b4", ""),
              ("all_active", "vec_scan"): ("#d62728", "6,4"), ("all_active", "ready_set"): ("#1f77b4", "6,4")}
    ly = T + 10
    for (wl, mp), (color, dash) in styles.items():
        series = sorted((k[2], v) for k, v in pts.items() if k[0] == wl and k[1] == mp)
        if not series:
            continue
        d = " ".join(f"{px(n):.1f},{py(v):.1f}" for n, v in series)
        e.append(f'<polyline points="{d}" fill="none" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/>')
        for n, v in series:
            e.append(f'<circle cx="{px(n):.1f}" cy="{py(v):.1f}" r="3" fill="{color}"/>')
        e.append(f'<line x1="{W-R+15}" y1="{ly}" x2="{W-R+45}" y2="{ly}" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/>')
        e.append(f'<text x="{W-R+50}" y="{ly+4}">{wl} {mp}</text>')
        ly += 20
    e.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(e) + "\n")


def main(argv):
    path = next(a for a in argv if not a.startswith("--") and argv[argv.index(a) - 1] != "--svg")
    med = load(path)
    if "--svg" in argv:
        svg(med, argv[argv.index("--svg") + 1])
    print(table(med, "--markdown" in argv))


if __name__ == "__main__":
    main(sys.argv[1:])
