// yield_many (200 x 1,000): 200 tasks each yield 1,000 times. ns per yield.
#include <vector>

#include "common.hpp"

namespace {
constexpr int n_tasks = 200;
constexpr int n_yields = 1'000;

weft::Task<void> yielder() {
  for (int i = 0; i < n_yields; ++i) co_await weft::yield_now();
}

void yield_many(benchmark::State& state) {
  weft::Runtime rt(weft_bench::options());
  for (auto _ : state) {
    rt.block_on([]() -> weft::Task<void> {
      std::vector<weft::JoinHandle<void>> hs;
      hs.reserve(n_tasks);
      for (int i = 0; i < n_tasks; ++i) hs.push_back(weft::spawn(yielder()));
      for (auto& h : hs) co_await h;
    }());
  }
  state.counters["ns_per_yield"] = weft_bench::per_unit(double(n_tasks) * n_yields);
}
}  // namespace

BENCHMARK(yield_many)->Name(WEFT_BENCH_PREFIX "yield_many")->UseRealTime()->Unit(benchmark::kMillisecond);
