#!/usr/bin/env python3
"""StreamMap plot: ns per item against N (log-log) for the four maps of the comparison.

Usage: plot_streammap.py COMPARE.json OUT.svg [--span read|whole]
Reads the raw samples tools/bench_compare.py wrote (--json) and plots the median per-item
cost of weft's VecStreamMap and ReadyStreamMap, tokio-stream's StreamMap and futures-util's
SelectAll, for streammap_one_active (solid) and streammap_all_active (dashed). No
dependencies: writes SVG by hand.
"""
import json
import math
import re
import statistics
import sys

ROW = re.compile(r"streammap_(one_active|all_active)/(\w+)/(whole|read)/N:(\d+)")
COLORS = {"vec_scan": "#d62728", "ready_set": "#1f77b4", "tokio_stream": "#2ca02c", "select_all": "#9467bd"}


def load(path, span):
    med = {}
    for r in json.load(open(path)):
        m = ROW.fullmatch(r["name"])
        if r["mode"] == "normal" and m and m.group(3) == span and r["per_unit_ns"]:
            med[(m.group(1), m.group(2), int(m.group(4)))] = statistics.median(r["per_unit_ns"])
    return med


def svg(med, path, span):
    W, H, L, R, T, B = 760, 480, 80, 230, 30, 60
    xs = [k[2] for k in med]
    ys = list(med.values())
    x0, x1 = math.log10(min(xs)), math.log10(max(xs))
    y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    px = lambda x: L + (math.log10(x) - x0) / ((x1 - x0) or 1) * (W - L - R)
    py = lambda y: H - B - (math.log10(y) - y0) / ((y1 - y0) or 1) * (H - T - B)
    e = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
         f'<rect width="{W}" height="{H}" fill="white"/>',
         f'<text x="{L}" y="18" font-size="14">StreamMap: ns per item vs N, {span} span (log-log)</text>']
    for d in range(y0, y1 + 1):
        y = py(10 ** d)
        e.append(f'<line x1="{L}" y1="{y:.1f}" x2="{W-R}" y2="{y:.1f}" stroke="#ddd"/>')
        e.append(f'<text x="{L-8}" y="{y+4:.1f}" text-anchor="end">1e{d}</text>')
    for n in sorted(set(xs)):
        x = px(n)
        e.append(f'<line x1="{x:.1f}" y1="{T}" x2="{x:.1f}" y2="{H-B}" stroke="#eee"/>')
        e.append(f'<text x="{x:.1f}" y="{H-B+18}" text-anchor="middle">{n:,}</text>')
    e.append(f'<text x="{(L + W - R)/2}" y="{H-15}" text-anchor="middle">N (streams in the map)</text>')
    e.append(f'<text x="18" y="{(T + H - B)/2}" transform="rotate(-90 18 {(T + H - B)/2})" '
             f'text-anchor="middle">ns per item</text>')
    ly = T + 10
    for kind, dash in (("one_active", ""), ("all_active", "6,4")):
        for impl, color in COLORS.items():
            series = sorted((k[2], v) for k, v in med.items() if k[0] == kind and k[1] == impl)
            if not series:
                continue
            d = " ".join(f"{px(n):.1f},{py(v):.1f}" for n, v in series)
            e.append(f'<polyline points="{d}" fill="none" stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/>')
            for n, v in series:
                e.append(f'<circle cx="{px(n):.1f}" cy="{py(v):.1f}" r="3" fill="{color}"/>')
            e.append(f'<line x1="{W-R+15}" y1="{ly}" x2="{W-R+45}" y2="{ly}" stroke="{color}" stroke-width="2" '
                     f'stroke-dasharray="{dash}"/>')
            e.append(f'<text x="{W-R+50}" y="{ly+4}">{kind} {impl}</text>')
            ly += 20
    e.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(e) + "\n")


def main(argv):
    span = argv[argv.index("--span") + 1] if "--span" in argv else "read"
    med = load(argv[0], span)
    if not med:
        sys.exit("plot_streammap: no StreamMap rows in " + argv[0])
    svg(med, argv[1], span)


if __name__ == "__main__":
    main(sys.argv[1:])
