// chained_spawn (1,000): a task on a worker spawns the first link; each link spawns the next;
// the last signals; the first task waits for the signal. Per spawn.
#include "common.hpp"

namespace {
constexpr int n_chain = 1'000;

weft::Task<void> link(int left, weft::Notify* done) {
  if (left == 0) {
    done->notify_one();
    co_return;
  }
  (void)weft::spawn(link(left - 1, done));
}

weft::Task<void> body() {
  weft::Notify done;
  (void)weft::spawn(link(n_chain, &done));
  co_await done.notified();
}

void chained_spawn(benchmark::State& state) {
  static bool warmed = false;
  weft_bench::measure(state, warmed, n_chain, [] { weft_bench::runtime().block_on(body()); });
}
}  // namespace

WEFT_BENCHMARK(chained_spawn);
