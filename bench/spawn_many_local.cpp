// spawn_many_local (10,000): inside a running task spawn N trivial tasks; each decrements a
// shared atomic; the last signals; the spawner waits. ns per task.
#include "common.hpp"

namespace {
constexpr int n_tasks = 10'000;

weft::Task<void> leaf(std::atomic<int>& rem, weft::Notify& done) {
  // AcqRel: the last decrementer sees all others' work before signalling.
  if (rem.fetch_sub(1, std::memory_order_acq_rel) == 1) done.notify_one();
  co_return;
}

weft::Task<void> spawner() {
  std::atomic<int> rem{n_tasks};
  weft::Notify done;
  for (int i = 0; i < n_tasks; ++i) (void)weft::spawn(leaf(rem, done));
  co_await done.notified();
}

void spawn_many_local(benchmark::State& state) {
  weft::Runtime rt(weft_bench::options());
  for (auto _ : state) rt.block_on(spawner());
  state.counters["ns_per_task"] = weft_bench::per_unit(n_tasks);
}
}  // namespace

BENCHMARK(spawn_many_local)->Name(WEFT_BENCH_PREFIX "spawn_many_local")->UseRealTime()->Unit(benchmark::kMillisecond);
