#pragma once
// The load shared by the latency workloads (wake_latency, starvation), and percentiles.
// Load: 4 tasks that each spin ~1 us on the clock, then yield_now, until told to stop: with
// 2 workers, both are always busy and every run queue is non-empty.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <vector>

#include "common.hpp"

namespace weft_bench {

inline constexpr int load_tasks = 4;
inline constexpr auto load_spin = std::chrono::microseconds(1);

inline std::uint64_t now_ns() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count());
}

inline weft::Task<void> spinner(const std::atomic<bool>* stop) {
  // Relaxed: a stop request needs no ordering with anything else.
  while (!stop->load(std::memory_order_relaxed)) {
    auto until = std::chrono::steady_clock::now() + load_spin;
    while (std::chrono::steady_clock::now() < until) {
    }
    co_await weft::yield_now();
  }
}

/// Runs `measured` as a task beside the load (load_tasks spinners) and returns its result
/// once it is done and the load has stopped.
template <class T>
weft::Task<T> under_load(weft::Task<T> measured) {
  std::atomic<bool> stop{false};
  std::vector<weft::JoinHandle<void>> load;
  for (int i = 0; i < load_tasks; ++i) load.push_back(weft::spawn(spinner(&stop)));
  T out = co_await weft::spawn(std::move(measured));
  stop.store(true, std::memory_order_relaxed);
  for (auto& h : load) co_await h;
  co_return out;
}

/// The q-quantile (0..1) of `v`, which it sorts: the element at floor(q * size), clamped.
inline double quantile(std::vector<std::uint64_t>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto i = std::min(v.size() - 1, static_cast<std::size_t>(q * double(v.size())));
  return double(v[i]);
}

}  // namespace weft_bench
