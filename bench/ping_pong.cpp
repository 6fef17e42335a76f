// ping_pong (1,000 pairs): in each pair task A sends to task B on a oneshot, B replies on
// another; wait for all. ns per round trip.
#include <atomic>

#include "common.hpp"
#include "weft/sync/oneshot.hpp"

namespace {
constexpr int n_pairs = 1'000;

// As tokio's rt_multi_threaded ping_pong: each pair is spawned by a task of its own, the
// last pair to finish signals.
weft::Task<void> pong(weft::oneshot::Receiver<int> ping, weft::oneshot::Sender<int> reply) {
  int v = co_await std::move(ping);
  (void)reply.send(v + 1);
}
weft::Task<void> pair(std::atomic<int>& rem, weft::Notify& done) {
  auto [tx1, rx1] = weft::oneshot::channel<int>();
  auto [tx2, rx2] = weft::oneshot::channel<int>();
  (void)weft::spawn(pong(std::move(rx1), std::move(tx2)));
  (void)tx1.send(1);
  int v = co_await std::move(rx2);
  benchmark::DoNotOptimize(v);
  // AcqRel: the last pair sees every other pair's work before signalling.
  if (rem.fetch_sub(1, std::memory_order_acq_rel) == 1) done.notify_one();
}

weft::Task<void> round() {
  std::atomic<int> rem{n_pairs};
  weft::Notify done;
  for (int i = 0; i < n_pairs; ++i) (void)weft::spawn(pair(rem, done));
  co_await done.notified();
}

void ping_pong(benchmark::State& state) {
  weft::Runtime rt(weft_bench::options());
  for (auto _ : state) rt.block_on(round());
  state.counters["ns_per_round_trip"] = weft_bench::per_unit(n_pairs);
}
}  // namespace

BENCHMARK(ping_pong)->Name(WEFT_BENCH_PREFIX "ping_pong")->UseRealTime()->Unit(benchmark::kMicrosecond);
