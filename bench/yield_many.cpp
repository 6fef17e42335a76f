// yield_many (200 x 1,000): a task on a worker spawns 200 tasks that each yield 1,000 times,
// then awaits them all. Per yield.
#include <vector>

#include "common.hpp"

namespace {
constexpr int n_tasks = 200;
constexpr int n_yields = 1'000;

weft::Task<void> yielder() {
  for (int i = 0; i < n_yields; ++i) co_await weft::yield_now();
}

weft::Task<void> body() {
  std::vector<weft::JoinHandle<void>> hs;
  hs.reserve(n_tasks);
  for (int i = 0; i < n_tasks; ++i) hs.push_back(weft::spawn(yielder()));
  for (auto& h : hs) co_await h;
}

void yield_many(benchmark::State& state) {
  static bool warmed = false;
  weft_bench::measure(state, warmed, double(n_tasks) * n_yields, [] { weft_bench::runtime().block_on(body()); });
}
}  // namespace

WEFT_BENCHMARK(yield_many);
