// ping_pong (1,000 pairs): a task on a worker spawns 1,000 pair tasks; each pair task spawns
// a partner, sends it a value on a oneshot and awaits the reply on another; the last pair
// to finish signals. Per round trip.
#include "common.hpp"
#include "weft/sync/oneshot.hpp"

namespace {
constexpr int n_pairs = 1'000;

weft::Task<void> pong(weft::oneshot::Receiver<int> ping, weft::oneshot::Sender<int> reply) {
  int v = co_await std::move(ping);
  (void)reply.send(v + 1);
}

weft::Task<void> pair(weft_bench::Countdown* c) {
  auto [tx1, rx1] = weft::oneshot::channel<int>();
  auto [tx2, rx2] = weft::oneshot::channel<int>();
  (void)weft::spawn(pong(std::move(rx1), std::move(tx2)));
  (void)tx1.send(1);
  int v = co_await std::move(rx2);
  benchmark::DoNotOptimize(v);
  c->count_down();
}

weft::Task<void> body() {
  weft_bench::Countdown c(n_pairs);
  for (int i = 0; i < n_pairs; ++i) (void)weft::spawn(pair(&c));
  co_await c.done.notified();
}

void ping_pong(benchmark::State& state) {
  static bool warmed = false;
  weft_bench::measure(state, warmed, n_pairs, [] { weft_bench::runtime().block_on(body()); });
}
}  // namespace

WEFT_BENCHMARK(ping_pong);
