// spawn_many_remote (10,000): from a non-worker thread spawn N tasks, keep the handles, then
// await each in block_on. ns per task.
#include <vector>

#include "common.hpp"

namespace {
constexpr int n_tasks = 10'000;

void spawn_many_remote(benchmark::State& state) {
  weft::Runtime rt(weft_bench::options());
  std::vector<weft::JoinHandle<void>> handles;
  handles.reserve(n_tasks);
  for (auto _ : state) {
    handles.clear();
    for (int i = 0; i < n_tasks; ++i) handles.push_back(rt.spawn([]() -> weft::Task<void> { co_return; }()));
    rt.block_on([&]() -> weft::Task<void> {
      for (auto& h : handles) co_await h;
    }());
  }
  state.counters["ns_per_task"] = weft_bench::per_unit(n_tasks);
}
}  // namespace

BENCHMARK(spawn_many_remote)->Name(WEFT_BENCH_PREFIX "spawn_many_remote")->UseRealTime()->Unit(benchmark::kMillisecond);
