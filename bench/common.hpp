#pragma once
// Shared pieces of the runtime benchmarks: the runtime under test and the ns-per-unit counter.
// ("The last signals, the spawner waits" uses weft::Notify: notify_one, co_await notified().)
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>

#include "weft/sync/notify.hpp"
#include "weft/weft.hpp"

namespace weft_bench {

inline constexpr std::size_t workers = 2;

inline weft::RuntimeOptions options() {
  weft::RuntimeOptions o;
  o.worker_threads = workers;
  return o;
}

/// ns per unit, from the benchmark's real time: a Google Benchmark counter in seconds per
/// unit (tools/bench_table.py prints it in ns).
inline benchmark::Counter per_unit(double units_per_iteration) {
  return benchmark::Counter(units_per_iteration,
                            benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

}  // namespace weft_bench
