#pragma once
// Shared pieces of the runtime benchmarks: the runtime under test and a one-shot signal.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <mutex>

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

/// A one-shot signal: set() from any thread completes the awaiting task.
class Signal {
 public:
  void set() {
    weft::Waker w;
    {
      std::lock_guard l(mu_);
      set_ = true;
      w = std::move(waker_);
    }
    std::move(w).wake();
  }
  weft::Poll<void> poll(weft::Context& cx) {
    std::lock_guard l(mu_);
    if (set_) return weft::ready();
    waker_ = cx.waker();
    return weft::pending;
  }

 private:
  std::mutex mu_;
  bool set_ = false;
  weft::Waker waker_;
};

}  // namespace weft_bench
