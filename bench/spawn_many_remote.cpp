// spawn_many_remote (10,000): the main thread (not a worker) spawns N trivial tasks and keeps
// their handles; a task on a worker then awaits each handle. Per task.
#include <vector>

#include "common.hpp"

namespace {
constexpr std::int64_t n_tasks = 10'000;

void once() {
  weft::Runtime& rt = weft_bench::runtime();
  std::vector<weft::JoinHandle<void>> handles;
  handles.reserve(n_tasks);
  for (std::int64_t i = 0; i < n_tasks; ++i) handles.push_back(rt.spawn([]() -> weft::Task<void> { co_return; }()));
  rt.block_on([](std::vector<weft::JoinHandle<void>> hs) -> weft::Task<void> {
    for (auto& h : hs) co_await h;
  }(std::move(handles)));
}

void spawn_many_remote(benchmark::State& state) {
  static bool warmed = false;
  weft_bench::measure(state, warmed, n_tasks, once);
}
}  // namespace

WEFT_BENCHMARK(spawn_many_remote);
