// starvation: how long a task that keeps yielding waits for its next turn under load. The
// load of latency.hpp keeps both workers busy; one more task loops on yield_now for 1 s and
// records the time between consecutive resumptions. Counters: p50, p99 and max gap in ns,
// and the number of resumptions.
#include "latency.hpp"

namespace {
constexpr auto duration = std::chrono::seconds(1);

weft::Task<std::vector<std::uint64_t>> yielder() {
  std::vector<std::uint64_t> gaps;
  gaps.reserve(1 << 20);
  const std::uint64_t start = weft_bench::now_ns(), end = start + std::uint64_t(duration / std::chrono::nanoseconds(1));
  std::uint64_t prev = start;
  while (prev < end) {
    co_await weft::yield_now();
    std::uint64_t now = weft_bench::now_ns();
    gaps.push_back(now - prev);
    prev = now;
  }
  co_return gaps;
}

weft::Task<std::vector<std::uint64_t>> body() { return weft_bench::under_load(yielder()); }

void starvation(benchmark::State& state) {
  for (auto _ : state) {
    auto gaps = weft_bench::runtime().block_on(body());
    state.counters["resumptions"] = double(gaps.size());
    state.counters["p50_ns"] = weft_bench::quantile(gaps, 0.50);
    state.counters["p99_ns"] = weft_bench::quantile(gaps, 0.99);
    state.counters["max_ns"] = double(gaps.back());
  }
}
}  // namespace

WEFT_BENCHMARK(starvation);
