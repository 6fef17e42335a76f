// The timer wheel (runtime/src/time/wheel.hpp) alone, beside a std::multimap baseline (what
// a time driver without a wheel would keep: timers ordered by deadline, O(log n), one
// allocation per timer):
//   insert_cancel/<distance>: insert one timer `distance` ticks ahead and cancel it, in a
//     structure already holding `background` timers spread over every level (a timeout set
//     and dropped before it fires: the common case for I/O timeouts);
//   insert_fire/<distance>: insert `batch` timers `distance` ticks ahead (spread over 64
//     ticks), then poll at each next_expiration until all have fired; per timer. The
//     distance decides how many cascades a timer goes through before it fires (up to one
//     per level below the one it is filed in), so the rows show what each level costs.
// A distance of 1, 100, 10^4, 10^6, 10^8 and 10^10 ticks is filed in level 0, 1, 2, 3, 4
// and 5 (at 1 ms: 1 ms, 0.1 s, 10 s, 17 min, 28 h, 116 days).
// Not part of tools/bench (no tokio twin): run build/release/bench/weft_bench_timer_wheel.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <vector>

#include "time/wheel.hpp"

namespace {
using weft::detail::TimerEntry;
using weft::detail::TimerWheel;

constexpr std::size_t background = 10'000;
constexpr std::size_t batch = 1'024;

/// `background` deadlines on a log scale over the wheel's range (fixed seed).
std::vector<std::uint64_t> background_deadlines() {
  std::mt19937_64 rng(1);
  std::vector<std::uint64_t> ds(background);
  for (std::uint64_t& d : ds) d = 1 + rng() % (std::uint64_t{1} << (1 + rng() % 35));
  return ds;
}

void args(benchmark::internal::Benchmark* b) {
  for (std::int64_t d : {1LL, 100LL, 10'000LL, 1'000'000LL, 100'000'000LL, 10'000'000'000LL}) b->Arg(d);
  b->ArgName("distance");
}

void insert_cancel_wheel(benchmark::State& state) {
  const auto distance = static_cast<std::uint64_t>(state.range(0));
  std::vector<TimerEntry> others(background);  // declared before the wheel, which outlives none
  TimerEntry e;
  TimerWheel w;
  const std::vector<std::uint64_t> ds = background_deadlines();
  for (std::size_t i = 0; i < background; ++i) w.insert(others[i], ds[i]);
  for (auto _ : state) {
    w.insert(e, distance);
    benchmark::DoNotOptimize(w.cancel(e));
  }
  state.SetItemsProcessed(state.iterations());
}

void insert_cancel_multimap(benchmark::State& state) {
  const auto distance = static_cast<std::uint64_t>(state.range(0));
  std::multimap<std::uint64_t, TimerEntry*> m;
  for (std::uint64_t d : background_deadlines()) m.emplace(d, nullptr);
  TimerEntry e;
  for (auto _ : state) {
    auto it = m.emplace(distance, &e);
    benchmark::DoNotOptimize(it);
    m.erase(it);
  }
  state.SetItemsProcessed(state.iterations());
}

void insert_fire_wheel(benchmark::State& state) {
  const auto distance = static_cast<std::uint64_t>(state.range(0));
  std::vector<TimerEntry> es(batch);
  TimerWheel w;
  std::size_t fired = 0;
  for (auto _ : state) {
    const std::uint64_t base = w.elapsed();
    for (std::size_t i = 0; i < batch; ++i) w.insert(es[i], base + distance + (i & 63));
    while (const std::optional<std::uint64_t> next = w.next_expiration()) {
      while (w.poll(*next) != nullptr) ++fired;
    }
  }
  if (fired != batch * static_cast<std::size_t>(state.iterations())) state.SkipWithError("timers lost");
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch));
}

void insert_fire_multimap(benchmark::State& state) {
  const auto distance = static_cast<std::uint64_t>(state.range(0));
  std::vector<TimerEntry> es(batch);
  std::multimap<std::uint64_t, TimerEntry*> m;
  std::uint64_t now = 0;
  std::size_t fired = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < batch; ++i) m.emplace(now + distance + (i & 63), &es[i]);
    while (!m.empty()) {
      now = m.begin()->first;
      benchmark::DoNotOptimize(m.begin()->second);
      m.erase(m.begin());
      ++fired;
    }
  }
  if (fired != batch * static_cast<std::size_t>(state.iterations())) state.SkipWithError("timers lost");
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(batch));
}

BENCHMARK(insert_cancel_wheel)->Apply(args);
BENCHMARK(insert_cancel_multimap)->Apply(args);
BENCHMARK(insert_fire_wheel)->Apply(args);
BENCHMARK(insert_fire_multimap)->Apply(args);

}  // namespace
