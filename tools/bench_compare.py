#!/usr/bin/env python3
"""The fair comparison: weft's bench/ against its twin bench/tokio, interleaved in rounds.

Every figure is the median of single repetitions (one timed run of the workload each),
gathered over several rounds; in each round every runtime runs the group's workloads once
(a fresh process, two untimed warm-up runs, then K timed ones), and the order of the
runtimes rotates from round to round. Ratios are weft / peer medians from this one run.

Runtimes (labels), in two pairs that share an allocator:
  weft       bench/ with frames and task cells from glibc (weft_bench_system, WEFT_ALLOCATOR=system)
  tokio      bench/tokio: tokio 1.24, tokio-stream 0.1.9, futures-util 0.3.21, glibc malloc
  weft_mi    bench/ with frames and task cells from mimalloc (weft_bench_mimalloc, the default
             WEFT_ALLOCATOR=mimalloc; the rest of the program stays on glibc)
  tokio_mi   bench/tokio with mimalloc as Rust's global allocator (every allocation)
  tokio_u, tokio_u_mi  the same built with --cfg tokio_unstable (needed by tokio-util 0.7.3's
             JoinMap; it also turns on tokio's runtime metrics): the joinmap rows only.
  extra      --variant LABEL=PATH adds another weft binary (e.g. a build of an earlier commit),
             compared with `weft`.

Usage: bench_compare.py [--rounds-scale X] [--only GROUP,...] [--contended [GROUP,...|all]]
                        [--variant L=PATH] [--json OUT] [--markdown OUT]
Groups: sched, mpsc, joinset, joinmap, streammap, streammap_65536, latency, driver (timers,
spawn_blocking), tcp (echo over loopback), memory (weft's
glibc build only: bytes per entry / task as glibc's mallinfo2 counts them).
"""
import argparse
import functools
import json
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WEFT = {
    "weft": os.path.join(ROOT, "build/release/bench/weft_bench_system"),
    "weft_mi": os.path.join(ROOT, "build/release/bench/weft_bench_mimalloc"),
}
TOKIO = {
    "tokio": os.path.join(ROOT, "build/tokio-bench/release/tokio-bench"),
    "tokio_mi": os.path.join(ROOT, "build/tokio-bench-mimalloc/release/tokio-bench"),
    "tokio_u": os.path.join(ROOT, "build/tokio-bench-unstable/release/tokio-bench"),
    "tokio_u_mi": os.path.join(ROOT, "build/tokio-bench-unstable-mimalloc/release/tokio-bench"),
}
# (allocator, weft label, tokio label, tokio label for the JoinMap rows)
PAIRS = [("glibc", "weft", "tokio", "tokio_u"), ("mimalloc", "weft_mi", "tokio_mi", "tokio_u_mi")]

SIZES = [16, 256, 4096, 65536]
SCHED = ["spawn_many_local", "spawn_many_remote", "yield_many", "chained_spawn", "ping_pong"]
DRIVER = ["timer_insert_cancel", "spawn_blocking"]
TCP_LAT = ["tcp_echo_latency/conns:1", "tcp_echo_latency/conns:100"]
TCP = TCP_LAT + ["tcp_echo_throughput/conns:1", "tcp_echo_throughput/conns:100"]
MPSC = [f"mpsc_{k}/producers:{p}" for k in ("unbounded", "bounded") for p in (1, 2, 8)]
SM_KINDS = ["one_active", "all_active"]
SM_WEFT = ["vec_scan", "ready_set"]
SM_PEERS = ["tokio_stream", "select_all"]
MEMORY = ["memory_streammap/ready_set/N:1000000", "memory_streammap/vec_scan/N:1000000",
          "memory_joinmap/N:100000", "memory_joinset/N:100000"]


def sm(kind, impl, span, n):
    return f"streammap_{kind}/{impl}/{span}/N:{n}"


def streammap_names(impls, sizes):
    names = [sm(k, i, s, n) for k in SM_KINDS for i in impls for s in ("whole", "read") for n in sizes]
    churn = [f"streammap_churn/{i}/read/N:4096" for i in impls if i != "select_all" and 4096 in sizes]
    insert = [f"streammap_insert/{i}/N:65536" for i in impls if 65536 in sizes]
    return names + churn + insert


# group -> (rounds, reps per round, {runtime label: [benchmark names]})
def groups(variants):
    def both(weft_names, tokio_names, tokio_labels=("tokio", "tokio_mi")):
        g = {lab: weft_names for lab in ["weft", "weft_mi"] + list(variants)}
        g.update({lab: tokio_names for lab in tokio_labels})
        return g

    small, big = SIZES[:-1], SIZES[-1:]
    return {
        "sched": (20, 10, both(SCHED, SCHED)),
        "mpsc": (3, 5, both(MPSC, MPSC)),
        "joinset": (3, 5, both(["joinset_drain", "joinset_abort", "naive_joinmap_drain", "naive_joinmap_abort"],
                               ["joinset_drain", "joinset_abort"])),
        "joinmap": (3, 5, both(["joinmap_drain", "joinmap_abort"], ["joinmap_drain", "joinmap_abort"],
                               ("tokio_u", "tokio_u_mi"))),
        "streammap": (3, 3, both(streammap_names(SM_WEFT, small), streammap_names(SM_PEERS, small))),
        "streammap_65536": (2, 2, both(streammap_names(SM_WEFT, big), streammap_names(SM_PEERS, big))),
        "latency": (3, 1, both(["wake_latency", "starvation", "sleep_lateness"],
                               ["wake_latency", "starvation", "sleep_lateness"])),
        "driver": (5, 5, both(DRIVER, DRIVER)),
        "tcp": (8, 5, both(TCP, TCP)),  # throughput rows spread 30% within a cell
        "memory": (1, 1, {"weft": MEMORY}),
    }


CONTENDED = ["sched", "latency"]


def binary(label, variants):
    if label in variants:
        return variants[label]
    return WEFT.get(label) or TOKIO[label]


def run_weft(path, names, reps, may_lack=False):
    pattern = "^(" + "|".join(re.escape(n) for n in names) + ")/iterations:1/"
    out = subprocess.run([path, f"--benchmark_filter={pattern}", f"--benchmark_repetitions={reps}",
                          "--benchmark_format=json"], check=True, capture_output=True, text=True).stdout
    if may_lack and not out.strip():
        return []  # a --variant built before these workloads existed: its cells stay empty
    data = json.loads(out)
    samples = []
    scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}
    for b in data["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        name = re.sub(r"/iterations:\d+/(real|manual)_time$", "", b["run_name"])
        counters = {k: v for k, v in b.items() if k.endswith("_ns") or k in ("resumptions", "bytes_per_unit")}
        samples.append((name, b["real_time"] * scale[b["time_unit"]], b.get("units", 1), counters))
    return samples


def run_tokio(path, names, reps):
    out = subprocess.run([path, "--reps", str(reps), "--filter", ",".join(names)], check=True,
                         capture_output=True, text=True).stdout
    samples = []
    for line in out.splitlines():
        r = json.loads(line)
        samples.append((r["name"], r["real_ns"], r["units"], r["counters"]))
    return samples


class Busy:
    """One nice-19 busy thread (a separate process), as a server that shares its cores sees."""

    def __enter__(self):
        self.p = subprocess.Popen(["nice", "-n", "19", sys.executable, "-c", "while True: pass"])
        return self

    def __exit__(self, *exc):
        self.p.kill()
        self.p.wait()


def collect(selected, variants, rounds_scale, contended):
    results = {}  # (mode, label, name) -> list of (ns per unit, counters)
    table = groups(variants)
    plan = [(g, "normal") for g in selected] + [(g, "contended") for g in contended]
    for gname, mode in plan:
        rounds, reps, per_label = table[gname]
        rounds = max(1, round(rounds * rounds_scale))
        labels = [lab for lab in per_label if os.path.exists(binary(lab, variants))]
        missing = [lab for lab in per_label if lab not in labels]
        if missing:
            print(f"  (skipping {', '.join(missing)}: not built)", file=sys.stderr)
        t0 = time.time()
        for r in range(rounds):
            order = labels[r % len(labels):] + labels[:r % len(labels)]
            for lab in order:
                path = binary(lab, variants)
                if lab in TOKIO:
                    runner = run_tokio
                else:
                    runner = functools.partial(run_weft, may_lack=lab in variants)
                if mode == "contended":
                    with Busy():
                        samples = runner(path, per_label[lab], reps)
                else:
                    samples = runner(path, per_label[lab], reps)
                for name, ns, units, counters in samples:
                    results.setdefault((mode, lab, name), []).append((ns / units, counters))
        print(f"  {gname} ({mode}): {rounds} rounds x {reps} reps, {time.time() - t0:.0f} s", file=sys.stderr)
    return results


def stats(values):
    if not values:
        return None
    return statistics.median(values), min(values), max(values), len(values)


def fmt(x):
    if x is None:
        return "–"
    if x >= 1e6:
        return f"{x / 1e6:,.2f} ms"
    if x >= 1e4:
        return f"{x / 1e3:,.1f} µs"
    return f"{x:,.1f}" if x < 1000 else f"{x:,.0f}"


def cell(s):
    if s is None:
        return "–"
    return f"{fmt(s[0])} ({fmt(s[1])}..{fmt(s[2])})"


def ratio(a, b):
    if a is None or b is None or b[0] == 0:
        return "–"
    return f"{a[0] / b[0]:.2f}"


def md_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def report(results, variants):
    def per_unit(mode, lab, name):
        v = results.get((mode, lab, name))
        return stats([x for x, _ in v]) if v else None

    def counter(mode, lab, name, c):
        v = results.get((mode, lab, name))
        return stats([cs[c] for _, cs in v if c in cs]) if v else None

    out = []
    extra = list(variants)
    units = {"spawn_many_local": "task", "spawn_many_remote": "task", "yield_many": "yield",
             "chained_spawn": "spawn", "ping_pong": "round trip", "timer_insert_cancel": "timer",
             "spawn_blocking": "round trip", "tcp_echo_latency/conns:1": "round trip",
             "tcp_echo_latency/conns:100": "round trip", "tcp_echo_throughput/conns:1": "MiB",
             "tcp_echo_throughput/conns:100": "MiB"}
    rows_sched = SCHED + MPSC + ["joinset_drain", "joinset_abort", "joinmap_drain", "joinmap_abort",
                                 "naive_joinmap_drain", "naive_joinmap_abort"] + DRIVER + TCP
    for mode in ("normal", "contended"):
        names = [n for n in rows_sched if any((mode, lab, n) in results for lab in ["weft", "weft_mi"] + extra)]
        if names:
            rows = []
            for n in names:
                row = [n, units.get(n, "task" if "join" in n else "msg")]
                for _, w, t, tu in PAIRS:
                    wv = per_unit(mode, w, n)
                    tv = per_unit(mode, tu if n.startswith("joinmap") else t, n)
                    row += [cell(wv), cell(tv), ratio(wv, tv)]
                for v in extra:
                    row += [cell(per_unit(mode, v, n)), ratio(per_unit(mode, "weft", n), per_unit(mode, v, n))]
                rows.append(row)
            header = ["workload", "per"]
            for alloc, *_ in PAIRS:
                header += [f"weft, {alloc}", f"tokio, {alloc}", f"weft / tokio ({alloc})"]
            for v in extra:
                header += [f"{v} (glibc)", f"weft / {v}"]
            title = "Scheduler, channels, JoinSet / JoinMap, timers, blocking pool, TCP: ns per unit, median (min..max)" + (
                " — contended (one nice-19 busy thread)" if mode == "contended" else "")
            out.append(f"### {title}\n\n" + md_table(header, rows))

        lat_rows = []
        for n, cs in (("wake_latency", ["p50_ns", "p99_ns", "p999_ns", "max_ns"]),
                      ("starvation", ["p50_ns", "p99_ns", "max_ns"]),
                      ("sleep_lateness", ["p50_ns", "p99_ns", "max_ns"]),
                      ("tcp_echo_latency/conns:1", ["p50_ns", "p99_ns"]),
                      ("tcp_echo_latency/conns:100", ["p50_ns", "p99_ns"])):
            for c in cs:
                row = [f"{n} {c[:-3]}"]
                for _, w, t, _u in PAIRS:
                    wv, tv = counter(mode, w, n, c), counter(mode, t, n, c)
                    row += [cell(wv), cell(tv), ratio(wv, tv)]
                for v in extra:
                    row += [cell(counter(mode, v, n, c)), ratio(counter(mode, "weft", n, c), counter(mode, v, n, c))]
                if any(x != "–" for x in row[1:]):
                    lat_rows.append(row)
        if lat_rows:
            header = ["latency (ns)"]
            for alloc, *_ in PAIRS:
                header += [f"weft, {alloc}", f"tokio, {alloc}", f"weft / tokio ({alloc})"]
            for v in extra:
                header += [f"{v} (glibc)", f"weft / {v}"]
            title = "Latency under load" + (" — contended" if mode == "contended" else "")
            out.append(f"### {title}\n\nMedian over runs of each run's percentile (min..max over runs).\n\n"
                       + md_table(header, lat_rows))

    for alloc, w, t, _u in PAIRS:
        sm_rows = []
        for kind in SM_KINDS:
            for span in ("whole", "read"):
                for n in SIZES:
                    vals = {i: per_unit("normal", w if i in SM_WEFT else t, sm(kind, i, span, n))
                            for i in SM_WEFT + SM_PEERS}
                    if all(v is None for v in vals.values()):
                        continue
                    sm_rows.append([f"{kind} {span}", f"{n:,}"] + [cell(vals[i]) for i in SM_WEFT + SM_PEERS] + [
                        ratio(vals["ready_set"], vals["vec_scan"]), ratio(vals["ready_set"], vals["tokio_stream"]),
                        ratio(vals["ready_set"], vals["select_all"])])
        churn = {i: per_unit("normal", w if i in SM_WEFT else t, f"streammap_churn/{i}/read/N:4096")
                 for i in SM_WEFT + ["tokio_stream"]}
        ins = {i: per_unit("normal", w if i in SM_WEFT else t, f"streammap_insert/{i}/N:65536")
               for i in SM_WEFT + SM_PEERS}
        if any(v is not None for v in ins.values()):
            sm_rows.append(["insert (per insert, building the map)", "65,536"] + [cell(ins[i]) for i in SM_WEFT + SM_PEERS]
                           + [ratio(ins["ready_set"], ins["vec_scan"]), ratio(ins["ready_set"], ins["tokio_stream"]),
                              ratio(ins["ready_set"], ins["select_all"])])
        if any(v is not None for v in churn.values()):
            sm_rows.append(["churn read (per op)", "4,096", cell(churn["vec_scan"]), cell(churn["ready_set"]),
                            cell(churn["tokio_stream"]), "–", ratio(churn["ready_set"], churn["vec_scan"]),
                            ratio(churn["ready_set"], churn["tokio_stream"]), "–"])
        if sm_rows:
            header = ["StreamMap workload (ns per item)", "N", "weft VecStreamMap", "weft ReadyStreamMap",
                      "tokio-stream StreamMap", "futures SelectAll", "ready / vec", "ready / tokio-stream",
                      "ready / SelectAll"]
            out.append(f"### StreamMap, {alloc} on both sides\n\n" + md_table(header, sm_rows))
    mem_rows = []
    for n in MEMORY:
        v = counter("normal", "weft", n, "bytes_per_unit")
        if v is not None:
            mem_rows.append([n.split("/N:")[0].replace("memory_", ""), f"{int(n.split('N:')[1]):,}", f"{v[0]:,.0f}"])
    if mem_rows:
        out.append("### Memory (weft's glibc build; bytes per entry or task, glibc's mallinfo2)\n\n"
                   + md_table(["structure", "N", "bytes per entry / task"], mem_rows))
    return "\n\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="sched,mpsc,joinset,joinmap,streammap,streammap_65536,latency,driver,tcp,memory")
    ap.add_argument("--rounds-scale", type=float, default=1.0)
    ap.add_argument("--contended", nargs="?", const=",".join(CONTENDED), default="",
                    help="groups to run again with one nice-19 busy thread (default: sched,latency; 'all')")
    ap.add_argument("--variant", action="append", default=[], help="LABEL=PATH of another weft bench binary")
    ap.add_argument("--json", help="write the raw samples here")
    ap.add_argument("--markdown", help="write the tables here")
    a = ap.parse_args()
    variants = dict(v.split("=", 1) for v in a.variant)
    selected = a.only.split(",")
    print("running the comparison (runtimes interleaved, rounds rotate their order) ...", file=sys.stderr)
    contended = [g for g in (selected if a.contended == "all" else a.contended.split(",")) if g in selected]
    results = collect(selected, variants, a.rounds_scale, contended)
    text = report(results, variants)
    write_outputs(text, a.markdown, a.json,
                  [{"mode": m, "runtime": lab, "name": n, "per_unit_ns": [x for x, _ in v],
                    "counters": [c for _, c in v]} for (m, lab, n), v in results.items()])


def write_outputs(text, markdown_path, json_path, data):
    """Prints the tables; writes them to `markdown_path` and `data` to `json_path` if given.
    (Also tools/resp_bench.py's.)"""
    print(text)
    if markdown_path:
        with open(markdown_path, "w") as f:
            f.write(text + "\n")
    if json_path:
        with open(json_path, "w") as f:
            json.dump(data, f, indent=1)


if __name__ == "__main__":
    main()
