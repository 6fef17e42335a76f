// chained_spawn (1,000): each task spawns the next; the last signals. ns per spawn.
#include "common.hpp"

namespace {
constexpr int n_chain = 1'000;

weft::Task<void> link(int left, weft::Notify& done) {
  if (left == 0) {
    done.notify_one();
    co_return;
  }
  (void)weft::spawn(link(left - 1, done));
}

void chained_spawn(benchmark::State& state) {
  weft::Runtime rt(weft_bench::options());
  for (auto _ : state) {
    rt.block_on([]() -> weft::Task<void> {
      weft::Notify done;
      (void)weft::spawn(link(n_chain, done));
      co_await done.notified();
    }());
  }
  state.counters["ns_per_spawn"] = weft_bench::per_unit(n_chain);
}
}  // namespace

BENCHMARK(chained_spawn)->Name(WEFT_BENCH_PREFIX "chained_spawn")->UseRealTime()->Unit(benchmark::kMicrosecond);
