#!/usr/bin/env python3
"""Where a latency row's tail comes from: reads the round-trip dumps that bench/tcp_echo.cpp and
its tokio twin write (WEFT_BENCH_DUMP_DIR; one latency in ns per line, in the order the round
trips happened) and prints, for each file, the quantiles, the outliers (round trips slower than
--factor x the median: how many, their share) and the time between consecutive outliers
(elapsed time summed over the round trips in between, so only meaningful for one client).

With --clients N (the file holds N clients' round trips, client after client, as many each),
it also prints the steady state: the quantiles without each client's first and last --edge
round trips (connection set-up and the end of the run).

A tail made by something periodic outside the runtime (a timer tick of the kernel or the
hypervisor) shows as outliers spaced by its period, the same in both runtimes' files.

Usage: tools/latency_outliers.py [--factor F] [--clients N [--edge K]] FILE...
Example (one connection, both runtimes, mimalloc builds):
  mkdir -p /tmp/dump && export WEFT_BENCH_DUMP_DIR=/tmp/dump
  build/release/bench/weft_bench_mimalloc --benchmark_filter='^tcp_echo_latency/conns:1/'
  build/tokio-bench-mimalloc/release/tokio-bench --reps 1 --filter tcp_echo_latency/conns:1
  tools/latency_outliers.py /tmp/dump/tcp_echo_latency_conns1_*.txt
"""
import argparse
import statistics
import sys


def q(sorted_v, p):
    return sorted_v[min(len(sorted_v) - 1, int(p * len(sorted_v)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--factor", type=float, default=2.0, help="an outlier is slower than this x the median")
    ap.add_argument("--clients", type=int, default=0, help="clients in each file (for the steady state)")
    ap.add_argument("--edge", type=int, default=10, help="round trips left out at each end of a client's")
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    for path in a.files:
        with open(path) as f:
            v = [int(line) for line in f if line.strip()]
        if not v:
            print(f"{path}: empty", file=sys.stderr)
            continue
        s = sorted(v)
        med = statistics.median(v)
        qs = " ".join(f"p{p * 100:g}={q(s, p) / 1000:.1f}" for p in (0.1, 0.5, 0.9, 0.95, 0.98, 0.99, 0.999))
        print(f"{path}: {len(v)} round trips, us: {qs}")
        if a.clients > 0:
            per = len(v) // a.clients
            st = sorted(ns for c in range(a.clients) for ns in v[c * per + a.edge:(c + 1) * per - a.edge])
            if st:
                p50, p90, p99 = q(st, 0.5), q(st, 0.9), q(st, 0.99)
                print(f"  steady state ({a.clients} clients, {a.edge} round trips left out at each end): "
                      f"p50={p50 / 1000:.1f} p90={p90 / 1000:.1f} p99={p99 / 1000:.1f} us, "
                      f"p90/p50 {p90 / p50:.2f}, p99/p50 {p99 / p50:.2f}")
        at, t = [], 0
        for ns in v:
            at.append(t)
            t += ns
        out = [i for i, ns in enumerate(v) if ns > a.factor * med]
        if not out:
            print(f"  no round trip above {a.factor} x the median")
            continue
        extra = statistics.median(v[i] - med for i in out) / 1000
        print(f"  outliers (> {a.factor} x median): {len(out)} = {100 * len(out) / len(v):.2f}%, "
              f"median excess {extra:.1f} us")
        gaps = sorted((at[j] - at[i]) / 1000 for i, j in zip(out, out[1:]))
        if gaps:
            print("  time between consecutive outliers, us: " +
                  " ".join(f"p{p * 100:g}={q(gaps, p):.0f}" for p in (0.1, 0.25, 0.5, 0.75, 0.9)))


if __name__ == "__main__":
    main()
