#!/usr/bin/env python3
"""The RESP server comparison (tools/resp-bench runs it after installing and building).

Servers, all on 127.0.0.1 and started fresh for each round:
  redis       redis-server 7 (Debian's), no persistence (--save "" --appendonly no)
  weft        bench/resp's weft_resp_server (subscriptions in weft::StreamMap, the ready set)
  weft_busy   the same binary with --busy-poll-us 50 (weft::RuntimeOptions::busy_poll: its
              worker polls epoll for up to 50 us before it sleeps; more CPU, fewer sleeps)
  weft_vec    the same server built with weft::VecStreamMap (the scanning baseline)

Loads, each run in rounds (the servers' order rotates every round; each figure is the median
of the rounds, the spread shown):
  redis-benchmark: PING_INLINE, PING_MBULK, SET, GET, and PUBLISH (a custom command), 50
    clients, pipeline 1 and 16; requests/s and p50 / p99 latency as redis-benchmark reports
    them.
  fan-out (bench/resp/fanout.cpp): S subscriber connections each on the same C channels, one
    publisher (pipelined), every subscriber receiving every message; deliveries/s and
    publish-to-receive p50 / p99; C = 10 and 10,000 (--fanout-channels for others).
Each cell also shows the server's CPU time over the load (all its threads, from
/proc/PID/task/*/schedstat), since a busy-polling server spends CPU to save latency.

Usage: resp_bench.py --build DIR [--rounds N] [--requests N] [--workers N] [--json F]
       [--markdown F] [--only bench,fanout] [--servers redis,weft,weft_vec]
       [--fanout-channels 10,10000] [--variant LABEL=PATH ...]
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_compare import write_outputs  # noqa: E402

SERVERS = ["redis", "weft", "weft_busy", "weft_vec"]
BUSY_POLL_US = 50
TESTS = ["PING_INLINE", "PING_MBULK", "SET", "GET", "PUBLISH"]
PIPELINES = [1, 16]
CLIENTS = 50
FANOUT = [(50, 10), (50, 10000)]  # (subscribers, channels per subscriber)
FANOUT_MESSAGES = 20000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout} s")


class Server:
    """One server process, started for a round and stopped after it."""

    def __init__(self, name, build, workers, binary=None):
        self.name, self.build, self.workers, self.binary = name, build, workers, binary
        self.proc, self.port = None, None

    def __enter__(self):
        self.port = free_port()
        if self.name == "redis":
            cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--protected-mode", "no", "--loglevel", "warning"]
        else:
            binary = self.binary or os.path.join(
                self.build, "bench", "resp", "weft_resp_server_vec" if self.name == "weft_vec" else "weft_resp_server")
            cmd = [binary, "--port", str(self.port),
                   "--workers", str(self.workers), "--max-clients", "20000"]
            if self.name == "weft_busy":
                cmd += ["--busy-poll-us", str(BUSY_POLL_US)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wait_port(self.port, self.proc)
        return self

    def cpu_ms(self):
        """CPU time of all the server's threads so far, in ms (schedstat: ns on the CPU)."""
        total = 0
        task_dir = f"/proc/{self.proc.pid}/task"
        for t in os.listdir(task_dir):
            try:
                with open(os.path.join(task_dir, t, "schedstat")) as f:
                    total += int(f.read().split()[0])
            except FileNotFoundError:  # a thread that just exited
                pass
        return total / 1e6

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
            raise RuntimeError(f"{self.name} did not stop within 15 s of SIGTERM")
        if self.proc.returncode not in (0, -15):
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}: {err[-2000:]}")


def redis_benchmark(port, test, pipeline, requests):
    """One redis-benchmark run of one test: (requests/s, p50 ms, p99 ms)."""
    cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(CLIENTS), "-n", str(requests),
           "-P", str(pipeline), "--csv"]
    if test == "PUBLISH":
        cmd += ["PUBLISH", "bench-channel", "hello"]
    else:
        cmd += ["-t", test.lower()]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=300).stdout
    rows = [line.replace('"', "").split(",") for line in out.strip().splitlines()]
    header, data = rows[0], rows[-1]
    col = {h: i for i, h in enumerate(header)}
    return float(data[col["rps"]]), float(data[col["p50_latency_ms"]]), float(data[col["p99_latency_ms"]])


def fanout(build, port, subscribers, channels):
    cmd = [os.path.join(build, "bench", "resp", "weft_resp_fanout"), "--port", str(port), "--subscribers",
           str(subscribers), "--channels", str(channels), "--messages", str(FANOUT_MESSAGES),
           "--timeout-s", "300"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=400).stdout
    r = json.loads(out)
    if r["receivers_counted"] != subscribers * FANOUT_MESSAGES:
        raise RuntimeError(f"fan-out: {r['receivers_counted']} receivers counted, expected "
                           f"{subscribers * FANOUT_MESSAGES}")
    return r["deliveries_per_s"], r["p50_us"], r["p99_us"]


def spread(xs):
    return f"{min(xs):,.0f}..{max(xs):,.0f}" if max(xs) >= 100 else f"{min(xs):.3f}..{max(xs):.3f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True, help="the release build directory")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200000, help="requests per redis-benchmark run")
    ap.add_argument("--workers", type=int, default=1, help="weft server workers")
    ap.add_argument("--only", default="bench,fanout")
    ap.add_argument("--fanout-channels", default=",".join(str(c) for _, c in FANOUT),
                    help="channels per subscriber of the fan-out loads, comma-separated (50 subscribers each)")
    ap.add_argument("--servers", default=",".join(SERVERS), help="a subset of " + ",".join(SERVERS))
    ap.add_argument("--variant", action="append", default=[], metavar="LABEL=PATH",
                    help="also run this weft_resp_server binary (another build), as `weft` is run; "
                         "the table adds its column and LABEL / weft")
    ap.add_argument("--json")
    ap.add_argument("--markdown")
    a = ap.parse_args()
    only = set(a.only.split(","))
    servers = [n for n in SERVERS if n in a.servers.split(",")]
    variants = dict(v.split("=", 1) for v in a.variant)
    clash = set(variants) & set(SERVERS)
    if clash:
        ap.error(f"--variant labels must differ from the servers' names: {', '.join(sorted(clash))}")
    servers += list(variants)
    columns = SERVERS + list(variants)

    fanout_loads = [(FANOUT[0][0], int(c)) for c in a.fanout_channels.split(",")]
    samples = {}  # (kind, row, server) -> list of (throughput, p50, p99)
    for rnd in range(a.rounds):
        order = servers[rnd % len(servers):] + servers[:rnd % len(servers)]
        for name in order:
            with Server(name, a.build, a.workers, variants.get(name)) as srv:
                if "bench" in only:
                    for p in PIPELINES:
                        for t in TESTS:
                            n = a.requests * (4 if p > 1 else 1)
                            c0 = srv.cpu_ms()
                            r = redis_benchmark(srv.port, t, p, n)
                            samples.setdefault(("bench", f"{t} -P {p}", name), []).append(r + (srv.cpu_ms() - c0,))
                if "fanout" in only:
                    for s, c in fanout_loads:
                        c0 = srv.cpu_ms()
                        r = fanout(a.build, srv.port, s, c)
                        samples.setdefault(("fanout", f"S={s} C={c}", name), []).append(r + (srv.cpu_ms() - c0,))
            print(f"round {rnd + 1}/{a.rounds}: {name} done", file=sys.stderr, flush=True)

    rows = []
    for kind in ("bench", "fanout"):
        keys = sorted({k[1] for k in samples if k[0] == kind},
                      key=lambda r: (int(r.split("-P ")[1]), TESTS.index(r.split(" ")[0])) if kind == "bench" else
                      int(r.split("C=")[1]))
        for row in keys:
            cells = {}
            for name in columns:
                xs = samples.get((kind, row, name))
                if not xs:
                    continue
                cells[name] = {
                    "throughput": statistics.median(x[0] for x in xs),
                    "throughput_spread": spread([x[0] for x in xs]),
                    "p50": statistics.median(x[1] for x in xs),
                    "p99": statistics.median(x[2] for x in xs),
                    "cpu_ms": statistics.median(x[3] for x in xs),
                    "samples": xs,
                }
            rows.append({"kind": kind, "row": row, "servers": cells})

    unit = {"bench": ("requests/s", "ms"), "fanout": ("deliveries/s", "us")}
    lines = []
    for kind in ("bench", "fanout"):
        kr = [r for r in rows if r["kind"] == kind]
        if not kr:
            continue
        tput, lat = unit[kind]
        title = "redis-benchmark, 50 clients" if kind == "bench" else \
            f"pub/sub fan-out, {FANOUT_MESSAGES:,} messages, one publisher"
        lines.append(f"\n{title} ({tput}: median (min..max) of {a.rounds} rounds; latency p50 / p99 in {lat}; "
                     "server CPU time over the load in ms):\n")
        lines.append(f"| load | {' | '.join(columns)} | weft / redis | weft_busy / redis | weft_vec / redis | "
                     "p99 weft / redis | p99 weft_busy / redis |" + "".join(f" {v} / weft |" for v in variants))
        lines.append("|---|" + "---|" * (len(columns) + 5 + len(variants)))
        for r in kr:
            c = r["servers"]
            def cell(n):
                if n not in c:
                    return "-"
                x = c[n]
                return (f"{x['throughput']:,.0f} ({x['throughput_spread']}); {x['p50']:g} / {x['p99']:g}; "
                        f"cpu {x['cpu_ms']:,.0f}")
            def ratio(n, field, base="redis"):
                if n not in c or base not in c or c[base][field] == 0:
                    return "-"
                return f"{c[n][field] / c[base][field]:.2f}"
            lines.append(f"| {r['row']} | {' | '.join(cell(n) for n in columns)} | {ratio('weft', 'throughput')} | "
                         f"{ratio('weft_busy', 'throughput')} | {ratio('weft_vec', 'throughput')} | "
                         f"{ratio('weft', 'p99')} | {ratio('weft_busy', 'p99')} |" +
                         "".join(f" {ratio(v, 'throughput', 'weft')} |" for v in variants))
    fan = {r["row"]: r["servers"] for r in rows if r["kind"] == "fanout"}
    if len(fan) >= 2:
        by_c = sorted(fan, key=lambda r: int(r.split("C=")[1]))
        lo = by_c[0]
        for hi in by_c[1:]:
            lines.append(f"\nfan-out cost at {hi.split(' ')[1]} vs {lo.split(' ')[1]} per connection "
                         "(time per delivery, ratio; target for weft <= 1.2 at C=10000 vs C=10):")
            for n in columns:
                if n in fan[lo] and n in fan[hi]:
                    lines.append(f"- {n}: {fan[lo][n]['throughput'] / fan[hi][n]['throughput']:.2f}")
    write_outputs("\n".join(lines), a.markdown, a.json,
                  {"rounds": a.rounds, "requests": a.requests, "workers": a.workers, "rows": rows})


if __name__ == "__main__":
    main()
