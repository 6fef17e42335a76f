#pragma once
// Shared pieces of weft's benchmarks. Every workload here has a twin in bench/tokio with the
// same name, the same spawn paths and threads, the same shared state and the same timed span;
// tools/bench runs both, interleaved, and prints the ratios (BENCHMARKS.md says how).
//
// Conventions (both sides):
//   - one runtime per process, 2 worker threads, created before anything is timed;
//   - a benchmark is one timed run of its workload (Iterations(1)); the harness asks for
//     single repetitions and takes their median. The first repetition in a process is
//     preceded by two untimed runs (warm-up);
//   - the timed span is the main thread's call into the runtime (block_on) and back;
//   - a workload's body runs as a task on a worker unless its name says "remote";
//   - the counter "units" is what the row's figure is per (tasks, yields, items...).
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "weft/detail/random.hpp"
#include "weft/sync/notify.hpp"
#include "weft/weft.hpp"

namespace weft_bench {

inline constexpr std::size_t workers = 2;

/// The process-wide runtime every benchmark runs on.
inline weft::Runtime& runtime() {
  static weft::Runtime rt([] {
    weft::RuntimeOptions o;
    o.worker_threads = workers;
    return o;
  }());
  return rt;
}

/// Runs `once` (one workload run, from the main thread) as the benchmark: two untimed runs
/// the first time this benchmark runs in the process (`warmed` is its own flag), then one
/// timed run per iteration.
template <class F>
void measure(benchmark::State& state, bool& warmed, double units, F&& once) {
  if (!warmed) {
    once();
    once();
    warmed = true;
  }
  for (auto _ : state) once();
  state.counters["units"] = units;
}

/// As measure, for workloads that time their own span inside the runtime: `once` returns the
/// seconds it measured (register with WEFT_BENCHMARK_MANUAL). One untimed warm-up run.
template <class F>
void measure_manual(benchmark::State& state, bool& warmed, double units, F&& once) {
  if (!warmed) {  // one warm-up run (these workloads build large maps)
    (void)once();
    warmed = true;
  }
  for (auto _ : state) state.SetIterationTime(once());
  state.counters["units"] = units;
}

/// Seconds since `t0` on the monotonic clock.
inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

/// xorshift64 (Marsaglia), the same generator as bench/tokio's, so both sides see the same
/// sequence of random choices.
using XorShift64 = weft::detail::XorShift64;

/// Registers a benchmark with the harness's conventions (one timed run per repetition).
#define WEFT_BENCHMARK(fn) BENCHMARK(fn)->Iterations(1)->UseRealTime()->Unit(benchmark::kMicrosecond)
#define WEFT_BENCHMARK_MANUAL(fn) BENCHMARK(fn)->Iterations(1)->UseManualTime()->Unit(benchmark::kMicrosecond)

/// State shared by the tasks of one run: a countdown, and the Notify the last one signals.
/// Passed to tasks by pointer (bench/tokio passes a raw pointer too, not a cloned Arc).
struct Countdown {
  explicit Countdown(std::int64_t n) : remaining(n) {}
  std::atomic<std::int64_t> remaining;
  weft::Notify done;
  void count_down() {
    // AcqRel: the last decrementer sees every other task's work before it signals.
    if (remaining.fetch_sub(1, std::memory_order_acq_rel) == 1) done.notify_one();
  }
};

}  // namespace weft_bench
