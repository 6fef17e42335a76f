// mpsc_unbounded / mpsc_bounded (100,000 messages): a task on a worker spawns one consumer
// and P producers (1, 2 or 8) that send 100,000 / P messages each, through an unbounded
// channel or a bounded one (capacity 1,024), then awaits them. Per message.
#include <vector>

#include "common.hpp"
#include "weft/sync/mpsc.hpp"

namespace {
constexpr int n_messages = 100'000;
constexpr std::size_t bounded_capacity = 1'024;

template <class Tx>
weft::Task<void> produce(Tx tx, int n) {
  for (int i = 0; i < n; ++i) {
    if constexpr (requires { tx.send(i).is_ok(); }) {
      (void)tx.send(i);
    } else {
      (void)co_await tx.send(i);
    }
  }
}

weft::Task<long> consume(weft::mpsc::Receiver<int> rx) {
  long sum = 0;
  while (auto v = co_await rx.recv()) sum += *v;
  co_return sum;
}

template <bool Bounded>
weft::Task<void> body(int producers) {
  auto [tx, rx] = [] {
    if constexpr (Bounded) return weft::mpsc::channel<int>(bounded_capacity);
    else return weft::mpsc::unbounded_channel<int>();
  }();
  auto consumer = weft::spawn(consume(std::move(rx)));
  const int per = n_messages / producers;
  std::vector<weft::JoinHandle<void>> hs;
  for (int p = 0; p < producers; ++p) hs.push_back(weft::spawn(produce(tx, per)));
  { auto drop = std::move(tx); }
  for (auto& h : hs) co_await h;
  long sum = co_await consumer;
  if (sum != long(producers) * per * (per - 1) / 2) throw std::runtime_error("mpsc benchmark: wrong sum");
}

template <bool Bounded>
void mpsc_throughput(benchmark::State& state) {
  static bool warmed[9] = {};
  const int producers = static_cast<int>(state.range(0));
  weft_bench::measure(state, warmed[producers], double(n_messages / producers * producers),
                      [&] { weft_bench::runtime().block_on(body<Bounded>(producers)); });
}
}  // namespace

WEFT_BENCHMARK(mpsc_throughput<false>)->Name("mpsc_unbounded")->Arg(1)->Arg(2)->Arg(8)->ArgName("producers");
WEFT_BENCHMARK(mpsc_throughput<true>)->Name("mpsc_bounded")->Arg(1)->Arg(2)->Arg(8)->ArgName("producers");
