// spawn_many_local (10,000): a task on a worker spawns N trivial tasks; each counts down a
// shared countdown, the last signals; the spawner waits for the signal. Per task.
#include "common.hpp"

namespace {
constexpr std::int64_t n_tasks = 10'000;

weft::Task<void> leaf(weft_bench::Countdown* c) {
  c->count_down();
  co_return;
}

weft::Task<void> spawner() {
  weft_bench::Countdown c(n_tasks);
  for (std::int64_t i = 0; i < n_tasks; ++i) (void)weft::spawn(leaf(&c));
  co_await c.done.notified();
}

void spawn_many_local(benchmark::State& state) {
  static bool warmed = false;
  weft_bench::measure(state, warmed, n_tasks, [] { weft_bench::runtime().block_on(spawner()); });
}
}  // namespace

WEFT_BENCHMARK(spawn_many_local);
